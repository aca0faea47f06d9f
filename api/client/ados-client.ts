/**
 * The TypeScript client for programs that use ADOS: `import { AdosClient } from 'ados-client'` (the
 * package in ./package). It starts runs the way `ados run start` and the HTTP API do — the same launch,
 * the same validation, the same admission answer — and reads runs, quotes, tenants and reports.
 * Everything else in api/ is the CLI's and the API's own and may change; this module is the
 * contract (docs/CONTRACT.md).
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporalClient, temporalTarget } from '../../infra/temporal-connection';
import { UserError } from '../../infra/user-error';
import type { DeliveryRunInput } from '../../workflows/domain/run/dag';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import type { RunQuote } from '../../workflows/domain/prediction/quote';
import type { TenantSettings } from '../../workflows/domain/tenant/tenant-config';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import type { ShowbackReport } from '../../activities/export/showback';
import {
  configureTenant,
  quote,
  runHandle,
  runOutcome,
  runProgress,
  startRun,
  tenantReport,
  tenantStatus,
  type RunAdmission,
} from '.';
import { admitFromBlocks, starterName } from './admission';
import { blockSecondsProblem } from '../../workflows/domain/admission/blocks';

export type { DeliveryRunInput, DagNode } from '../../workflows/domain/run/dag';
export type { DeliveryRunResult, RunStatus, NodeResult, CostDecision } from '../../workflows/domain/run/run-result';
export type { RunQuote } from '../../workflows/domain/prediction/quote';
export type { TenantSettings, TenantConfig } from '../../workflows/domain/tenant/tenant-config';
export type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
export type { ShowbackReport, ShowbackRow } from '../../activities/export/showback';
export type { RunAdmission } from '.';
export type { RejectionCode } from '../../workflows/domain/tenant/entity-payloads';

/**
 * Every error the client raises on purpose: `code` says which kind (INVALID_INPUT with each
 * problem in `issues`, NOT_FOUND, CONFLICT for a run id already used, UNAVAILABLE when Temporal
 * or a worker does not answer). Other errors are Temporal's own.
 */
export { UserError as AdosError };

/** A run to start: the deliveryRun input (its tenant, optional runId, priority, parallelism, tags and DAG). */
export type RunInput = DeliveryRunInput;

/** A started run: its ids, and its tenant's admission answer (ADMITTED, PENDING, or REJECTED with the reason). */
export interface StartedRun {
  tenantId: string;
  runId: string;
  workflowId: string;
  admission: RunAdmission;
}

export interface AdosClientOptions {
  /**
   * The Temporal frontend, over Temporal's environment configuration (TEMPORAL_ADDRESS, TLS and API
   * key settings, TEMPORAL_PROFILE and its temporal.toml).
   * @default the environment's (localhost:7233)
   */
  address?: string;
  /** @default the environment's (TEMPORAL_NAMESPACE, or 'default') */
  namespace?: string;
  /**
   * For a long-lived program that starts many runs: admit its starts from admission blocks its
   * tenants lease it, each for this many seconds (5 to 300), as the HTTP API does — no round trip
   * to the tenant before a start (docs/GOVERNANCE.md). `close()` hands the blocks back; a program
   * that exits without it leaves them to expire (their slots come back 10 s after).
   * @default 0: each start is admitted by its tenant's entity
   */
  admissionBlockSeconds?: number;
}

export class AdosClient {
  private readonly handBackBlocks: (() => Promise<void>) | undefined;

  /** Use `AdosClient.connect()`, or wrap a Temporal client of your own (its data converter must be ADOS's: infra/payload-codec.ts). */
  constructor(
    readonly temporal: Client,
    { admissionBlockSeconds = 0 }: Pick<AdosClientOptions, 'admissionBlockSeconds'> = {},
  ) {
    const problem = blockSecondsProblem(admissionBlockSeconds);
    if (problem) throw new UserError(`admissionBlockSeconds ${problem}`, 'INVALID_INPUT', [problem]);
    this.handBackBlocks =
      admissionBlockSeconds > 0
        ? admitFromBlocks(temporal, { starter: starterName('client'), ttlSeconds: admissionBlockSeconds })
        : undefined;
  }

  /** Connects through ADOS's one connection factory (infra/temporal-connection.ts); payloads sealed as every ADOS process seals them. */
  static async connect(options: AdosClientOptions = {}): Promise<AdosClient> {
    const { address, namespace, admissionBlockSeconds } = options;
    const problem = blockSecondsProblem(admissionBlockSeconds ?? 0);
    if (problem) throw new UserError(`admissionBlockSeconds ${problem}`, 'INVALID_INPUT', [problem]);
    return new AdosClient(
      await temporalClient(temporalTarget({ ...(address ? { address } : {}), ...(namespace ? { namespace } : {}) })),
      { admissionBlockSeconds },
    );
  }

  /**
   * Starts a run and returns at once with its tenant's answer. An invalid input throws
   * INVALID_INPUT listing every problem, and starts nothing; a run id already used throws CONFLICT.
   */
  async startRun(input: RunInput): Promise<StartedRun> {
    const started = await startRun(this.temporal, input);
    return {
      tenantId: input.tenantId,
      runId: started.runId,
      workflowId: started.workflowId,
      admission: started.admission,
    };
  }

  /** Waits for the run's end and returns its result, whichever way it ended (COMPLETED … CANCELLED). */
  async runResult(tenantId: string, runId: string): Promise<DeliveryRunResult> {
    try {
      return await runOutcome(runHandle(this.temporal, tenantId, runId));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new UserError(`unknown run ${runId} of tenant ${tenantId}`, 'NOT_FOUND');
      throw err;
    }
  }

  /** The run so far (the same shape as its result), or its result once it ended. */
  progress(tenantId: string, runId: string): Promise<DeliveryRunResult> {
    return runProgress(this.temporal, tenantId, runId);
  }

  /** Asks the run to stop: nodes in flight are cancelled, its slot given back; it ends CANCELLED. */
  async cancel(tenantId: string, runId: string): Promise<void> {
    try {
      await runHandle(this.temporal, tenantId, runId).cancel();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new UserError(`unknown run ${runId} of tenant ${tenantId}`, 'NOT_FOUND');
      throw err;
    }
  }

  /** What a run would cost (p5, p50, p95, per node), without starting or reserving anything. */
  quote(input: RunInput): Promise<RunQuote> {
    return quote(this.temporal, input);
  }

  /** Creates the tenant, or changes the settings given (the others are kept); returns its status. */
  configureTenant(tenantId: string, settings: TenantSettings): Promise<TenantStatus> {
    return configureTenant(this.temporal, tenantId, settings);
  }

  /** Budget status, spend by category, runs in flight and waiting, alerts, learning. */
  tenantStatus(tenantId: string): Promise<TenantStatus> {
    return tenantStatus(this.temporal, tenantId);
  }

  /**
   * Showback for [from, to) (ISO 8601; default: the current budget period until now), by run,
   * category, model and tag, exact to the micro-dollar.
   */
  report(tenantId: string, range: { from?: string; to?: string } = {}): Promise<ShowbackReport> {
    return tenantReport(this.temporal, tenantId, range);
  }

  /** Hands back the admission blocks it holds, if any, and closes the connection to Temporal. */
  async close(): Promise<void> {
    await this.handBackBlocks?.();
    await this.temporal.connection.close();
  }
}
