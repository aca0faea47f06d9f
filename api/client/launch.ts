/** A run's one launch, for every door: validation, prices, and its tenant's admission. */
import { promptBasesOf } from '../../activities/nodes/prompt-tokens';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { validateDeliveryRunInput, type DeliveryRunInput, type DeliveryRunSpec } from '../../workflows/domain/run/dag';
import { deliveryRunWorkflowId, parseDeliveryRunWorkflowId } from '../../workflows/domain/ids';
import { RunPlan } from '../../workflows/domain/run/run-plan';
import { RunState } from '../../workflows/domain/run/run-state';
import { quoteMicros } from '../../workflows/domain/prediction/quote';
import type { RunLaunch } from '../../workflows/messages/delivery-run';
import { admitBeforeStart } from './admission';
import { runPrices } from '../../activities/pricing';

/** A run checked and, when its kinds are known here, admitted: what its start needs. */
export type RunLaunchOutcome =
  | { ok: false; problems: string[] }
  | {
      ok: true;
      /** The input as given, with its runId (generated when neither the input nor the workflow id gave one). */
      input: DeliveryRunInput & { runId: string };
      spec: DeliveryRunSpec & { runId: string };
      workflowId: string;
      /**
       * Absent when the DAG names a kind this process does not know: the run's own worker, which
       * knows the deployment's kinds, then checks it and asks for admission before anything else.
       */
      launch?: RunLaunch;
    };

export interface RunLaunchOptions {
  /** Node kinds known where the launch is made. */
  knownKinds: readonly string[];
  /**
   * `knownKinds` are all the deployment's (a run's own worker): an unknown kind is invalid. A
   * starter knows the built-in kinds only and leaves others to the run's worker.
   */
  authoritativeKinds: boolean;
  /** The deployment's ADOS_NODE_PARTITIONS. */
  nodePartitions: number;
  /** The run's workflow id, when it exists already (a run started bare); else it is built from the input. */
  workflowId?: string;
  /** When that run's workflow started (a moving tenant still takes runs started before its move). */
  startedAt?: string;
}

/**
 * The one way a run is launched, whichever door it came in through: the ADOS starters (CLI, HTTP
 * API, TypeScript client, demo) call it before they start the run, and a run started bare (the
 * Temporal CLI, a plain client) calls it from its worker as its first step. It checks the input with
 * the one validation (workflows/domain/run/dag.ts), fixes the prices the run will estimate with, and
 * asks the tenant for admission (one batched `admitRuns` update per tenant and process), so every
 * door gets the same answer from the same place. Only a valid run is ever admitted: an invalid one
 * never holds a slot.
 */
export async function launchRun(client: Client, input: unknown, options: RunLaunchOptions): Promise<RunLaunchOutcome> {
  const checked = checkRunStart(input, options);
  if (!checked.ok) return checked;
  const { spec, workflowId } = checked;
  if (!checked.kindsChecked) return { ok: true, input: checked.input, spec, workflowId };
  const prices = runPrices(runModels(spec));
  const plan = new RunPlan(new RunState(spec), prices);
  const askedAt = Date.now();
  const ticket = await admitBeforeStart(client, spec.tenantId, {
    runId: spec.runId,
    workflowId,
    priority: spec.priority,
    estimatedMicros: plan.remainingMicros(),
    p95Micros: quoteMicros(plan).p95,
    // A run started bare exists already: its tenant may queue it now rather than have it ask again.
    ...(options.workflowId !== undefined ? { started: true } : {}),
    ...(options.startedAt !== undefined ? { startedAt: options.startedAt } : {}),
  });
  const promptBases = promptBasesOf(spec);
  const launch: RunLaunch = {
    ...(ticket ? { ticket } : {}),
    prices,
    ...(Object.keys(promptBases).length > 0 ? { promptBases } : {}),
    nodePartitions: options.nodePartitions,
    kindsChecked: true,
    admissionWaitMs: Date.now() - askedAt,
  };
  return { ok: true, input: checked.input, spec, workflowId, launch };
}

/**
 * The checks of a run's start without admission (a quote makes them too): the one validation,
 * with the kinds known here when they are all the DAG names (or are authoritative).
 */
export function checkRunStart(
  input: unknown,
  options: Omit<RunLaunchOptions, 'nodePartitions'>,
):
  | { ok: false; problems: string[] }
  | (Omit<Extract<RunLaunchOutcome, { ok: true }>, 'launch'> & { kindsChecked: boolean }) {
  const given = withRunId(input, options.workflowId);
  const kindsChecked =
    options.authoritativeKinds || namedKinds(given).every((k) => options.knownKinds.includes(k as string));
  const validation = validateDeliveryRunInput(given, {
    ...(kindsChecked ? { knownKinds: options.knownKinds } : {}),
    ...(options.workflowId !== undefined ? { workflowId: options.workflowId } : {}),
  });
  if (!validation.ok) return validation;
  const spec = validation.spec as DeliveryRunSpec & { runId: string };
  const workflowId = options.workflowId ?? deliveryRunWorkflowId(spec.tenantId, spec.runId);
  return { ok: true, input: { ...(given as DeliveryRunInput), runId: spec.runId }, spec, workflowId, kindsChecked };
}

/** The models a run names (its nodes' and their degrade models). */
export function runModels(spec: DeliveryRunSpec): string[] {
  return spec.dag.nodes
    .flatMap((n) => [n.params.model, n.degrade?.model])
    .filter((m): m is string => typeof m === 'string');
}

/** The input with a runId: its own, the workflow id's, or (for a starter) a new one. */
function withRunId(input: unknown, workflowId: string | undefined): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  if ((input as { runId?: unknown }).runId !== undefined) return input;
  if (workflowId !== undefined) {
    const fromId = parseDeliveryRunWorkflowId(workflowId)?.runId;
    return fromId ? { ...input, runId: fromId } : input;
  }
  return { ...input, runId: `run-${randomUUID().slice(0, 8)}` };
}

/** The kinds a (not yet validated) input names. */
function namedKinds(input: unknown): unknown[] {
  const nodes = (input as { dag?: { nodes?: unknown } } | null)?.dag?.nodes;
  return Array.isArray(nodes) ? nodes.map((n) => (n as { kind?: unknown } | null)?.kind) : [];
}
