/** Admission blocks as the entity leases and reconciles them (the block rules themselves: ./blocks.ts). */
import type { BudgetStatus } from '../tenant/budget-status';
import type { LeaseGrant, LeaseRequest, TenantPressure } from '../tenant/entity-payloads';

import type { BlockGrant, BlockLeaseRequest, BlockRun, BlockUse } from './blocks';
import type { RunLearning } from '../learning/profile';
import { AdmissionQueue } from './queue';

/** The entity's answer to a starter's block lease request: a new block, or why none. */
export interface BlockLeaseAnswer {
  grant?: BlockGrant & {
    budgetStatus: BudgetStatus;
    dedicatedQueue: boolean;
    /** How the starter sizes each run's lease, as the entity would: its estimate, or its p95. */
    leaseAt: 'estimate' | 'p95';
    /** The tenant's pressure when the block was granted, for its runs' first CostAgent decisions. */
    pressure: TenantPressure;
    /** The learning profile its runs start with (each explores if its slot is in `explore`). */
    learning: RunLearning;
  };
  /** Why no block was granted: the starter asks for each run's admission instead. */
  none?: string;
  /**
   * Blocks of this starter it must no longer admit from (the tenant's settings changed, or it is
   * over budget); it hands them back with its next message.
   */
  revoked?: string[];
}

/**
 * Blocks leased to starters on top of the admission queue: a starter's runs become the entity's as
 * it reports them (or as they ask for more money), blocks handed back free what was unused, and an
 * expired block is reconciled from visibility.
 */
export class BlockLeasing extends AdmissionQueue {
  /**
   * A run's lease ran short: charge the costs it brings, then authorise what is available of what
   * it asks. A run not held here that names itself is held again (its admission was lost with a
   * region); one that does not (requests from before runs named themselves) gets an empty grant.
   */
  topUpLease(request: LeaseRequest, now: string): LeaseGrant {
    this.recordCosts(request.costs, now);
    // A run admitted from a block may ask before its starter reported it.
    if (request.block) this.takeFromBlock({ ...request.block, runId: request.runId }, now);
    // A run that says who it is and is not held here lost its admission with a region (the run was
    // admitted in the lost copy): it holds its slot again, unless it was released here already (its
    // request came late). Runs that say nothing get an empty grant.
    const run =
      this.state.inFlight.find((r) => r.runId === request.runId) ??
      (request.workflowId && !this.state.released?.includes(request.runId)
        ? this.holdRun(
            {
              runId: request.runId,
              workflowId: request.workflowId,
              priority: request.priority ?? 3,
              estimatedMicros: request.estRemainingMicros,
            },
            now,
          )
        : undefined);
    if (!run)
      return { runId: request.runId, grantedMicros: 0, pressure: this.pressureFor(request.runId), seq: request.seq };
    run.estRemainingMicros = Math.max(0, request.estRemainingMicros);
    // A request asked again (its answer may have been lost with a region) is granted once.
    if (run.leaseSeq !== undefined && request.seq <= run.leaseSeq) return this.grant(run, 0, request.seq);
    run.leaseSeq = request.seq;
    return this.grant(run, request.requestMicros, request.seq);
  }

  /**
   * A starter's block lease request, in order: the runs it started from its blocks become runs in
   * flight holding the leases it gave them; the blocks it hands back free what was not used; then a
   * new block, of what room and money there is. No block while runs wait for admission (a block
   * would let later runs overtake them), above the backpressure threshold (where the entity decides
   * by priority), or once the budget is exceeded: the starter then asks for each run.
   */
  leaseBlocks(request: BlockLeaseRequest, now: string): BlockLeaseAnswer {
    const blocks = this.blocks(request.used.length > 0 || request.want !== undefined);
    for (const use of request.used) this.takeFromBlock(use, now);
    for (const blockId of request.handBack) this.learning.undoDraws(blocks.handBack(blockId));
    const exceeded = this.budgetStatus() === 'EXCEEDED';
    const moved = this.state.movedTo;
    const revoked = blocks.revokedFor(request.starter, exceeded || moved !== undefined);
    const answer = (a: BlockLeaseAnswer): BlockLeaseAnswer => (revoked.length > 0 ? { ...a, revoked } : a);
    if (!request.want) return answer({ none: 'no block asked for' });
    if (moved !== undefined) return answer({ none: `the tenant moved to ${moved}` });
    if (exceeded) return answer({ none: 'budget exceeded' });
    if (this.state.waiting.length > 0) return answer({ none: 'runs are waiting for admission' });
    const room = Math.floor(this.config.backpressureThreshold * this.config.maxConcurrentRuns) - this.activeSlots();
    const canAfford = this.learningAvailableMicros() > 0;
    const grant = blocks.grant(request.want, request.starter, room, this.availableMicros(), now, {
      draw: this.learning.explorationDraw(canAfford),
      next: () => this.learning.nextRunExplores(canAfford),
    });
    if (!grant) return answer({ none: room <= 0 ? 'no room below the backpressure threshold' : 'no money available' });
    return answer({
      grant: {
        ...grant,
        budgetStatus: this.budgetStatus(),
        dedicatedQueue: this.config.dedicatedQueue,
        leaseAt: this.config.leaseAt === 'p95' ? 'p95' : 'estimate',
        pressure: this.pressureFor(''),
        learning: this.learning.runLearning(false),
      },
    });
  }

  /**
   * Visibility's list of the runs started from an expired block its starter never handed back. A
   * closed run whose release never came is held as a run in flight (no lease) until the export
   * sweep releases it with the costs of its result.
   */
  reconcileBlock(blockId: string, started: readonly BlockRun[], now: string): void {
    for (const run of this.blocks().reconcile(blockId, started))
      if (!this.state.inFlight.some((r) => r.runId === run.runId)) this.holdRun({ ...run, priority: 3 }, now);
  }

  /** A run of a starter's block, reported (by its starter, or by the run itself): it holds a slot and its lease of its own now. */
  protected takeFromBlock(use: BlockUse, now: string): void {
    if (this.state.inFlight.some((r) => r.runId === use.runId) || !this.blocks(true).take(use)) return;
    this.holdRun(use, now).grantedMicros = use.leaseMicros;
  }
}
