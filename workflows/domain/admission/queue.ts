/** Admission by the tenant's entity: the queue of runs waiting for a slot, and the answers it gives. */
import { usd } from '../pricing/catalog';
import type {
  AdmissionDecision,
  AdmissionReply,
  AdmissionRequest,
  AdmissionTicket,
  CostEvent,
  InFlightRun,
} from '../tenant/entity-payloads';

import { RELEASED_RUNS_KEPT, TenantLedgerCore } from '../tenant/ledger-core';

/**
 * The money a newly admitted run's first lease asks for, whoever admits it (the entity, or a starter
 * from a block): its estimate, or for a tenant that leases at p95 its quoted 95th percentile where
 * the run gave one.
 */
export function firstLeaseMicros(
  leaseAt: string | undefined,
  request: Pick<AdmissionRequest, 'estimatedMicros' | 'p95Micros'>,
): number {
  const estimate = request.estimatedMicros ?? 0;
  return leaseAt === 'p95' ? Math.max(estimate, request.p95Micros ?? 0) : estimate;
}

/**
 * The admission queue of one tenant: who runs now, who waits (by priority, first come first served
 * within one), who is told to queue, and who is let in as runs end. Rules only; the entity sends the answers.
 */
export class AdmissionQueue extends TenantLedgerCore {
  /** Runs that may start now: below the limit, and only urgent ones once backpressure applies. */
  protected hasRoomFor(priority: number): boolean {
    const active = this.activeSlots();
    if (active >= this.config.maxConcurrentRuns) return false;
    const underPressure = active >= this.config.backpressureThreshold * this.config.maxConcurrentRuns;
    return !underPressure || priority <= 2;
  }

  /** Asks to run; a repeated request for the same run gets the same answer again. */
  requestAdmission(request: AdmissionRequest, now: string): AdmissionDecision {
    const existing = this.state.inFlight.find((r) => r.runId === request.runId);
    if (existing) return this.admitted(existing, 0);
    const waitingIndex = this.state.waiting.findIndex((w) => w.runId === request.runId);
    if (waitingIndex >= 0) return { kind: 'WAITING', runId: request.runId, position: waitingIndex + 1 };
    const { movedTo, movedAt, handedOver } = this.state;
    const startedBefore = request.startedAt && movedAt && request.startedAt < movedAt;
    if (movedTo !== undefined && (handedOver || !startedBefore)) {
      return {
        kind: 'REJECTED',
        code: 'TENANT_MOVED',
        runId: request.runId,
        reason: `tenant ${this.config.tenantId} moved to ${movedTo}: start its runs there`,
      };
    }
    if (this.budgetStatus() === 'EXCEEDED') {
      return {
        kind: 'REJECTED',
        code: 'BUDGET_EXCEEDED',
        runId: request.runId,
        reason: `budget exceeded: spent $${usd(this.spentMicros()).toFixed(6)} of $${this.config.budgetUsd} this period`,
      };
    }
    // Waiting runs of the same or more urgent priority go first, so a newcomer never jumps the queue.
    const queuedAhead = this.state.waiting.some((w) => w.priority <= request.priority);
    if (!queuedAhead && this.hasRoomFor(request.priority)) return this.admit(request, now);
    this.state.waiting.push({ ...request, requestedAt: now });
    this.sortWaiting();
    return {
      kind: 'WAITING',
      runId: request.runId,
      position: this.state.waiting.findIndex((w) => w.runId === request.runId) + 1,
    };
  }

  /**
   * Admission asked in a run's launch: ADMITTED (with its first lease) or REJECTED at once. A run
   * that would have to wait is queued (WAITING) when it exists already (`started`: its own worker
   * asks); one not yet started is told QUEUE without being queued, and queues itself when it
   * starts, so the entity never answers a run that does not exist yet. A repeat gets the same answer.
   */
  admitNow(request: AdmissionRequest, now: string): AdmissionTicket | { kind: 'QUEUE'; runId: string } {
    const existing = this.state.inFlight.find((r) => r.runId === request.runId);
    if (existing) return this.admitted(existing, 0) as AdmissionTicket;
    if (this.state.movedTo !== undefined) return this.requestAdmission(request, now);
    const queuedAhead = this.state.waiting.some((w) => w.runId === request.runId || w.priority <= request.priority);
    if (!request.started && this.budgetStatus() !== 'EXCEEDED' && (queuedAhead || !this.hasRoomFor(request.priority)))
      return { kind: 'QUEUE', runId: request.runId };
    return this.requestAdmission(request, now);
  }

  protected admit(request: AdmissionRequest, now: string): AdmissionDecision {
    const run = this.holdRun(request, now);
    return this.admitted(run, firstLeaseMicros(this.config.leaseAt, request), true);
  }

  /** The admission answer; a new admission (not a repeat) also takes its turn at exploring. */
  protected admitted(run: InFlightRun, requestMicros: number, newAdmission = false): AdmissionDecision {
    // The lease is granted first, so a shadow's money never competes with the real run's.
    const lease = this.grant(run, requestMicros, 0);
    // A repeat (the starter asked again: a retried activity, a lost answer) is told what the first was.
    const explore = newAdmission
      ? this.learning.nextRunExplores(this.learningAvailableMicros() > 0)
      : run.explores === true;
    if (newAdmission && explore) run.explores = true;
    return {
      kind: 'ADMITTED',
      runId: run.runId,
      dedicatedQueue: this.config.dedicatedQueue,
      budgetStatus: this.budgetStatus(),
      lease,
      learning: this.learning.runLearning(explore),
    };
  }

  protected sortWaiting(): void {
    // Array.prototype.sort is stable, so FIFO holds within a priority.
    this.state.waiting.sort((a, b) => a.priority - b.priority);
  }

  /**
   * Charges a run's last costs, then frees its slot and its unspent reservation (or its place in the
   * queue). A run admitted from a block that its starter has not reported yet frees its slot and
   * lease in the block. Idempotent.
   */
  releaseRun(
    runId: string,
    costs: CostEvent[],
    now: string,
    block?: { blockId: string; leaseMicros: number },
  ): boolean {
    this.recordCosts(costs, now);
    const before = this.state.inFlight.length + this.state.waiting.length;
    this.state.inFlight = this.state.inFlight.filter((r) => r.runId !== runId);
    this.state.waiting = this.state.waiting.filter((r) => r.runId !== runId);
    const released = this.state.inFlight.length + this.state.waiting.length < before;
    if (released && this.state.released) {
      this.state.released.push(runId);
      this.state.released.splice(0, this.state.released.length - RELEASED_RUNS_KEPT);
    }
    if (!released && block) this.blocks().releaseUnreported(block.blockId, runId, block.leaseMicros);
    return released;
  }

  /**
   * Admits waiting runs while there is room, most urgent first; returns the decisions to send.
   * An EXCEEDED tenant rejects its waiting runs instead of leaving them queued forever.
   */
  admitWaiting(now: string): AdmissionReply[] {
    const replies: AdmissionReply[] = [];
    if (this.budgetStatus() === 'EXCEEDED') {
      for (const w of this.state.waiting.splice(0)) {
        replies.push({
          workflowId: w.workflowId,
          decision: {
            kind: 'REJECTED',
            code: 'BUDGET_EXCEEDED',
            runId: w.runId,
            reason: 'budget exceeded while waiting for admission',
          },
        });
      }
      return replies;
    }
    while (this.state.waiting.length > 0 && this.hasRoomFor(this.state.waiting[0]!.priority)) {
      const next = this.state.waiting.shift()!;
      replies.push({ workflowId: next.workflowId, decision: this.admit(next, now) });
    }
    return replies;
  }
}
