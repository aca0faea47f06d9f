/** The tenant entity: its ledger behind its signals, updates and queries. */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  getExternalWorkflowHandle,
  startChild,
  log,
  proxyActivities,
  setCurrentDetails,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { PRIOR_WEIGHT } from '../domain/prediction/cost-model';
import { contributionFrom, priorValues, type PublishedPriors } from '../domain/learning/priors';
import { tokenContribution } from '../domain/prediction/token-model';
import type { MetaLearningScope } from '../domain/learning/profile-schema';
import {
  TenantLedger,
  type BlockLeaseAnswer,
  type TenantHandover,
  type TenantLedgerState,
} from '../domain/tenant/ledger';
import type { BlockLeaseRequest } from '../domain/admission/blocks';
import { budgetGaugeOf } from '../domain/tenant/tenant-status';
import type * as msg from '../domain/tenant/entity-payloads';
import type { TenantConfig, TenantConfigPatch } from '../domain/tenant/tenant-config';
import { BudgetStatusKey, TenantIdKey } from '../ports/search-attributes';
import type { AlertDelivery, ControlActivities } from '../ports/activities';
import { budgetAlert } from '../budget-alert';
import { budgetAlertWorkflowId } from '../domain/ids';
import type { AlertSettlement } from '../domain/alerts/budget-alerts';
import {
  admissionDecisionSignal,
  explorationGrantedSignal,
  leaseGrantedSignal,
  pressureChangedSignal,
  type RunRelease,
} from '../messages/tenant-budget';

/** Answers to runs and shadows, queued until the entity sends them (or carries them over a continue-as-new). */
export type Reply =
  | msg.AdmissionReply
  | { workflowId: string; lease: msg.LeaseGrant }
  | { workflowId: string; pressure: { runId: string; pressure: msg.TenantPressure } }
  | { workflowId: string; exploration: { explorationId: string; grantedMicros: number } }
  /** A budget alert to deliver: started as its own budgetAlert workflow. */
  | { workflowId: string; alert: AlertDelivery };

/** An opted-in tenant sends its statistics to meta-learning again after this many new cost samples. */
const CONTRIBUTE_EVERY_SAMPLES = 50;

const meta = proxyActivities<ControlActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 5 } });

/**
 * One tenant's entity: the ledger (budget, admission, learning), the answers it owes runs, and its
 * exchange with meta-learning. The tenantBudget workflow maps each message to one method here and
 * waits on `hasWork()`; everything that needs Temporal beyond the ledger's pure rules lives here.
 */
export class TenantEntity {
  readonly ledger: TenantLedger;
  private readonly outbox: Reply[];
  /** Answers being sent: not awaited by the main loop, so a slow round trip never holds back the entity. */
  private readonly sending = new Map<number, Reply>();
  private sent = 0;
  private changed = true;
  private configChanged = false;
  private pushedStatus: string;
  private published: { budgetStatus?: string; details?: string } = {};
  private metaBusy = false;
  private blockWatch: Promise<void> | undefined;
  /** Projected exhaustion counts what the runs in flight are predicted to spend still (tenant-budget.ts sets it). */
  alertsCountCommitted = false;

  constructor(state: TenantLedgerState | { config: TenantConfig; now: string }, outbox: Reply[] = []) {
    this.ledger = 'now' in state ? TenantLedger.create(state.config, state.now) : new TenantLedger(state);
    this.outbox = [...outbox];
    this.pushedStatus = this.ledger.budgetStatus();
  }

  private now(): string {
    return new Date().toISOString();
  }

  /** A moving tenant's standing: what holds it here (answers still owed count), its state once it handed over. */
  handover(): TenantHandover {
    return this.ledger.handover(this.unsent());
  }

  /**
   * The tenant moves to another deployment, or stays (`null`): its new runs are refused from now on,
   * its blocks revoked; with `handOver`, once nothing holds it (answers owed included), it hands its state over.
   */
  moveOut(to: string | null, handOver = false): TenantHandover {
    this.touch();
    return this.ledger.moveOut(to, this.now(), handOver, this.unsent());
  }

  /** Answers owed to runs and shadows, queued or being sent. */
  private unsent(): number {
    return this.outbox.length + this.sending.size;
  }

  /** Something to do: a message changed the state, or answers wait to be sent. */
  hasWork(): boolean {
    return this.changed || this.outbox.length > 0;
  }

  // ── Messages ──
  configure(patch: TenantConfigPatch): void {
    this.ledger.configure(patch, this.now());
    this.configChanged = true;
    // A larger limit or budget may make room for waiting runs.
    this.touch(this.ledger.admitWaiting(this.now()));
  }

  admitRuns(requests: msg.AdmissionRequest[]): ReturnType<TenantLedger['admitNow']>[] {
    const now = this.now();
    this.changed = true;
    return requests.map((request) => this.ledger.admitNow(request, now));
  }

  requestAdmission(request: msg.AdmissionRequest): void {
    this.touch([{ workflowId: request.workflowId, decision: this.ledger.requestAdmission(request, this.now()) }]);
  }

  requestLease(request: msg.LeaseRequest): void {
    const lease = this.ledger.topUpLease(request, this.now());
    const workflowId =
      request.workflowId ??
      this.ledger.state.inFlight.find((r) => r.runId === request.runId)?.workflowId ??
      request.block?.workflowId;
    this.touch([...(workflowId ? [{ workflowId, lease }] : []), ...this.ledger.admitWaiting(this.now())]);
  }

  recordCosts(events: msg.CostEvent[]): void {
    this.ledger.recordCosts(events, this.now());
    this.touch(this.ledger.admitWaiting(this.now()));
  }

  /** Runs' releases (one, or a worker's batch): each charges its last costs and frees its slot; what they free admits waiting runs once. */
  releaseRuns(releases: RunRelease[]): void {
    const now = this.now();
    for (const { runId, costs, block } of Array.isArray(releases) ? releases : [])
      if (typeof runId === 'string') this.ledger.releaseRun(runId, costs ?? [], now, block);
    this.touch(this.ledger.admitWaiting(now));
  }

  /** A starter's report, hand-back and request for a block; what it frees may admit waiting runs. */
  leaseBlocks(request: BlockLeaseRequest): BlockLeaseAnswer {
    const now = this.now();
    const answer = this.ledger.leaseBlocks(request, now);
    this.touch(this.ledger.admitWaiting(now));
    return answer;
  }

  /**
   * While blocks are leased, waits for the first to fall due (its expiry and a grace, without being
   * handed back) and reconciles the due ones: visibility says which runs were started from each.
   * Started when a block exists (never in executions without blocks), again after a continue-as-new.
   */
  private watchBlocks(): void {
    if (this.blockWatch || this.ledger.blocks().nextDue() === undefined) return;
    const tenantId = this.ledger.config.tenantId;
    this.blockWatch = (async () => {
      for (let due = this.ledger.blocks().nextDue(); due !== undefined; due = this.ledger.blocks().nextDue()) {
        await sleep(Math.max(1, Date.parse(due) - Date.parse(this.now())));
        for (const block of this.ledger.blocks().due(this.now())) {
          const runs = await meta.blockRuns({ tenantId, blockId: block.blockId }).catch(async (err: unknown) => {
            log.warn('admission block not reconciled yet; tried again in 30 s', { tenantId, error: String(err) });
            await sleep(30_000);
            return undefined;
          });
          if (!runs) continue;
          this.ledger.reconcileBlock(block.blockId, runs, this.now());
          log.info('expired admission block reconciled', {
            tenantId,
            blockId: block.blockId,
            starter: block.starter,
            runsStillHolding: this.ledger.blocks().find(block.blockId)?.slots ?? 0,
          });
          this.touch(this.ledger.admitWaiting(this.now()));
        }
      }
    })().finally(() => {
      this.blockWatch = undefined;
      this.changed = true;
    });
  }

  requestExploration(request: msg.ExplorationRequest): void {
    const grantedMicros = this.ledger.requestExploration(request, this.now());
    this.touch([
      { workflowId: request.workflowId, exploration: { explorationId: request.explorationId, grantedMicros } },
    ]);
  }

  alertSettled(settlement: AlertSettlement): void {
    this.ledger.settleAlert(settlement);
    this.changed = true;
  }

  settleExploration(report: msg.ExplorationReport): void {
    this.ledger.settleExploration(report, this.now());
    this.touch(this.ledger.admitWaiting(this.now()));
  }

  /** A message changed the state; its answers join the outbox. */
  touch(replies: Reply[] = []): void {
    this.outbox.push(...replies);
    this.changed = true;
  }

  // ── The main loop's steps ──
  /** Archives ended periods, and tells runs in flight about a new config or budget status. */
  settle(): void {
    this.changed = false;
    const now = this.now();
    const rolled = this.ledger.rolloverIfDue(now);
    for (const period of rolled) {
      log.info('budget period archived', {
        tenantId: this.ledger.config.tenantId,
        start: period.start,
        end: period.end,
        spentUsd: period.spentUsd,
      });
      this.outbox.push(...this.ledger.admitWaiting(now));
    }
    if (this.configChanged || this.ledger.budgetStatus() !== this.pushedStatus) {
      this.configChanged = false;
      this.pushedStatus = this.ledger.budgetStatus();
      for (const run of this.ledger.state.inFlight)
        this.outbox.push({
          workflowId: run.workflowId,
          pressure: { runId: run.runId, pressure: this.ledger.pressureFor(run.runId) },
        });
    }
    const alerts = this.ledger.config.alerts;
    for (const alert of this.ledger.raiseAlerts(now, rolled, this.alertsCountCommitted)) {
      log.info('budget alert raised', { tenantId: alert.body.tenantId, alertId: alert.id, type: alert.body.type });
      this.outbox.push({
        workflowId: budgetAlertWorkflowId(alert.id),
        alert: {
          tenantId: alert.body.tenantId,
          id: alert.id,
          body: alert.body,
          webhookUrl: alerts!.webhookUrl,
          secretSealed: alerts!.secretSealed,
        },
      });
    }
  }

  /** What the next execution needs after a continue-as-new: the state and every answer not yet acknowledged. */
  carryOver(): { state: TenantLedgerState; outbox: Reply[] } {
    return { state: this.ledger.state, outbox: [...this.sending.values(), ...this.outbox] };
  }

  /** Sends queued answers, exchanges with meta-learning if due, and refreshes the Web UI's gauge. */
  flush(): void {
    for (const reply of this.outbox.splice(0)) this.send(reply);
    this.exchangeWithMetaLearning();
    this.watchBlocks();
    this.publish();
  }

  private send(reply: Reply): void {
    const id = this.sent++;
    this.sending.set(id, reply);
    if ('alert' in reply) {
      this.startDelivery(id, reply);
      return;
    }
    signalRun(reply).then(
      () => this.sending.delete(id),
      (err: unknown) => {
        this.sending.delete(id);
        // A run that no longer exists gives back what it held; runs treat a repeated answer as a no-op.
        // A budget-status push often finds a run that closed while its release was on its way (the
        // worker sends releases in batches): expected, so not a warning.
        ('pressure' in reply ? log.info : log.warn)('run did not take its answer; releasing what it held', {
          workflowId: reply.workflowId,
          error: String(err),
        });
        const now = this.now();
        if ('exploration' in reply) this.ledger.learning.dropExploration(reply.exploration.explorationId);
        else this.ledger.releaseRun(runIdOf(reply), [], now);
        this.touch(this.ledger.admitWaiting(now));
      },
    );
  }

  /**
   * An alert's delivery runs as its own workflow, outliving this execution; its id is the alert's,
   * so starting it again (after a continue-as-new) is refused and the alert goes out once.
   */
  private startDelivery(id: number, reply: Extract<Reply, { alert: unknown }>): void {
    startChild(budgetAlert, {
      workflowId: reply.workflowId,
      args: [reply.alert],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      staticSummary: `${reply.alert.body.type} for ${reply.alert.tenantId}`,
    }).then(
      () => this.sending.delete(id),
      (err: unknown) => {
        this.sending.delete(id);
        if (!(err instanceof WorkflowExecutionAlreadyStartedError))
          log.warn('budget alert delivery not started', { alertId: reply.alert.id, error: String(err) });
      },
    );
  }

  /** Meta-learning runs beside message handling, one exchange at a time; one cut short by a continue-as-new is made again later. */
  private exchangeWithMetaLearning(): void {
    const { ledger } = this;
    const learning = ledger.learning.state;
    const optIn = ledger.config.learning.metaLearningOptIn;
    // Absent in configurations stored before scopes existed.
    const scope: MetaLearningScope = ledger.config.learning.metaLearningScope ?? 'placement';
    const tenantId = ledger.config.tenantId;
    let exchange: (() => Promise<void>) | undefined;
    if (
      optIn &&
      (!learning.metaOptIn ||
        (learning.metaScope ?? 'placement') !== scope ||
        ledger.learning.samples() - learning.contributedSamples >= CONTRIBUTE_EVERY_SAMPLES)
    ) {
      exchange = async () => {
        const samples = ledger.learning.samples();
        const priors =
          samples > 0
            ? await meta.contributeCostStats({
                tenantId,
                stats: contributionFrom(learning.costModel),
                ...(learning.tokens ? { tokens: tokenContribution(learning.tokens) } : {}),
                ...(scope !== 'placement' ? { scope } : {}),
              })
            : await meta.publishedPriors();
        learning.metaOptIn = true;
        if (scope !== 'placement' || learning.metaScope) learning.metaScope = scope;
        learning.contributedSamples = samples;
        if (samples > 0) ledger.learning.noteMetaLearning(true, this.now(), samples);
        if (priors) this.applyPriors(priors);
      };
    } else if (!optIn && learning.metaOptIn) {
      exchange = async () => {
        await meta.withdrawCostStats({ tenantId });
        learning.metaOptIn = false;
      };
    }
    if (!exchange || this.metaBusy) return;
    this.metaBusy = true;
    exchange()
      .catch((err: unknown) =>
        log.warn('meta-learning exchange failed; retried on a later change', { tenantId, error: String(err) }),
      )
      .finally(() => {
        this.metaBusy = false;
        this.changed = true;
      });
  }

  private applyPriors(priors: PublishedPriors): void {
    const tokens = priors.tokens
      ? Object.fromEntries(Object.entries(priors.tokens).map(([key, prior]) => [key, prior.shares]))
      : undefined;
    this.ledger.learning.applyPriors(priors.version, priorValues(priors), PRIOR_WEIGHT, this.now(), tokens);
  }

  /** The budget gauge in the Web UI; search attributes only when the budget status changes. */
  private publish(): void {
    const gauge = budgetGaugeOf(this.ledger);
    if (gauge.budgetStatus !== this.published.budgetStatus) {
      upsertSearchAttributes([
        { key: TenantIdKey, value: gauge.tenantId },
        { key: BudgetStatusKey, value: gauge.budgetStatus },
      ]);
    }
    const filled = Math.min(20, Math.round(gauge.utilization * 20));
    const details = [
      `**${gauge.tenantId}** · ${gauge.budgetStatus}`,
      '',
      `\`${'█'.repeat(filled)}${'░'.repeat(20 - filled)}\` $${gauge.spentUsd.toFixed(4)} of $${gauge.budgetUsd} (${(gauge.utilization * 100).toFixed(1)}%) · reserved $${gauge.reservedUsd.toFixed(4)}`,
      '',
      `runs in flight: ${gauge.runsInFlight} / ${gauge.maxConcurrentRuns} · waiting: ${gauge.runsWaiting}`,
      '',
      `period: ${gauge.periodStart}${gauge.periodEnd ? ` → ${gauge.periodEnd}` : ' (no end)'} · archived periods: ${gauge.archivedPeriods}`,
    ].join('\n');
    if (details !== this.published.details) setCurrentDetails(details);
    this.published = { budgetStatus: gauge.budgetStatus, details };
  }
}

function runIdOf(reply: Exclude<Reply, { exploration: unknown } | { alert: unknown }>): string {
  return 'decision' in reply ? reply.decision.runId : 'lease' in reply ? reply.lease.runId : reply.pressure.runId;
}

function signalRun(reply: Reply): Promise<void> {
  const run = getExternalWorkflowHandle(reply.workflowId);
  if ('decision' in reply) return run.signal(admissionDecisionSignal, reply.decision);
  if ('lease' in reply) return run.signal(leaseGrantedSignal, reply.lease);
  if ('exploration' in reply) return run.signal(explorationGrantedSignal, reply.exploration);
  if ('alert' in reply) throw new Error('alerts are started, not signalled');
  return run.signal(pressureChangedSignal, reply.pressure);
}
