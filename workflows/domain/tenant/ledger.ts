/** One tenant's ledger, whole: money and periods, admission and blocks, exploration, alerts and quote inputs. */
import { createLearningState } from '../learning/profile';
import { periodStartFor, type ArchivedPeriod } from './budget-period';
import type { TenantConfig } from './tenant-config';
import {
  emptyAlertState,
  raiseDue,
  settle as settleAlert,
  type AlertRecord,
  type AlertSettlement,
} from '../alerts/budget-alerts';
import type { ExplorationReport, ExplorationRequest, QuoteInputs } from './entity-payloads';

import { BlockLeasing } from '../admission/block-leasing';
import type { TenantLedgerState } from './ledger-core';

export { firstLeaseMicros } from '../admission/queue';
export type { BlockLeaseAnswer } from '../admission/block-leasing';
export { CHARGED_KEYS_KEPT, TenantLedgerCore, type TenantLedgerState } from './ledger-core';

/** A moving tenant's standing (`ados tenant move-in`): what still holds it here, and once nothing does, its state. */
export interface TenantHandover {
  /** Where it moves, and since when; absent while it has not been asked to. */
  movedTo?: string;
  movedAt?: string;
  holding: { runsInFlight: number; runsWaiting: number; blocks: number; explorations: number; unsent: number };
  /** It moves and nothing holds it: it may hand over. */
  drained: boolean;
  /** The whole ledger, to start the tenant's entity from in its new deployment: once it handed over. */
  state?: TenantLedgerState;
}

/**
 * The rules of one tenant's budget and admission, free of Temporal calls so that they can be
 * unit-tested; the tenantBudget workflow maps its messages onto these methods.
 */
export class TenantLedger extends BlockLeasing {
  static create(config: TenantConfig, now: string): TenantLedger {
    return new TenantLedger({
      config,
      spentMicros: {},
      chargedKeys: [],
      chargedEvents: 0,
      inFlight: [],
      waiting: [],
      periodStart: periodStartFor(now, config),
      archive: [],
      learning: createLearningState(config.learning),
    });
  }

  /** A shadow of one of this tenant's runs asks for learning money; returns what was granted (0 = denied). */
  requestExploration(request: ExplorationRequest, now: string): number {
    return this.learning.grantExploration(
      request.explorationId,
      request.requestMicros,
      this.learningAvailableMicros(),
      now,
      request,
    );
  }

  /** A shadow ended: charge its costs to the learning category, free what it did not spend, learn from it. */
  settleExploration(report: ExplorationReport, now: string): void {
    this.recordCosts(
      report.costs.map((c) => ({ ...c, category: 'learning' as const })),
      now,
    );
    this.learning.settleExploration(report.explorationId, report.observation, now, report);
  }

  /**
   * Budget alerts due now (thresholds, exceeded, the periods in `rolled`, a projected exhaustion,
   * with `countCommitted` counting what the runs in flight are predicted to spend still), each at
   * most once per period; none for a tenant without alerts configured.
   */
  raiseAlerts(now: string, rolled: readonly ArchivedPeriod[], countCommitted = false): AlertRecord[] {
    const config = this.config.alerts;
    if (!config) return [];
    this.state.alerts ??= emptyAlertState();
    return raiseDue(
      config,
      {
        tenantId: this.config.tenantId,
        budgetMicros: this.budgetMicros(),
        spentMicros: this.spentMicros(),
        periodStart: this.state.periodStart,
        periodEnd: this.currentPeriodEnd(),
        now,
        ...(countCommitted ? { committedMicros: this.committedMicros() } : {}),
      },
      rolled,
      this.state.alerts,
    );
  }

  /**
   * The tenant moves to another deployment (`to` names it), or stays after all (`null`): a moving
   * tenant admits no new run, leases no block and revokes the blocks its starters hold, while the
   * runs it admitted (in flight, waiting, started from a block, or started before the move and
   * asking late) end here and are charged here. With `handOver`, once nothing holds it (`unsent`:
   * answers the entity still owes), it hands its state over and from then on takes no run at all;
   * asked again, it hands the same state.
   */
  moveOut(to: string | null, now: string, handOver = false, unsent = 0): TenantHandover {
    if (to === null) {
      delete this.state.movedTo;
      delete this.state.movedAt;
    } else {
      // Asked again (a retried command): the move began at the first ask.
      if (this.state.movedTo === undefined) this.state.movedAt = now;
      this.state.movedTo = to;
      this.blocks().revokeAll();
      if (handOver && this.handover(unsent).drained) this.state.handedOver = true;
    }
    return this.handover(unsent);
  }

  /** What still holds a moving tenant here (`unsent`: answers the entity still owes); its state once it handed over. */
  handover(unsent: number): TenantHandover {
    const holding = {
      runsInFlight: this.state.inFlight.length,
      runsWaiting: this.state.waiting.length,
      blocks: this.blocks().list().length,
      explorations: Object.keys(this.learning.state.reservations).length,
      unsent,
    };
    const { movedTo, movedAt, handedOver } = this.state;
    const drained = movedTo !== undefined && Object.values(holding).every((n) => n === 0);
    const carried = { ...this.state, movedTo: undefined, movedAt: undefined, handedOver: undefined };
    return {
      ...(movedTo !== undefined ? { movedTo, movedAt: movedAt! } : {}),
      holding,
      drained,
      ...(handedOver ? { state: JSON.parse(JSON.stringify(carried)) as TenantLedgerState } : {}),
    };
  }

  settleAlert(settlement: AlertSettlement): void {
    if (this.state.alerts) settleAlert(this.state.alerts, settlement);
  }

  quoteInputs(): QuoteInputs {
    const { costModel, preferences, tokens } = this.learning.runLearning(false);
    const rates = this.config.negotiatedRates ?? {};
    return {
      learning: { costModel, preferences, ...(tokens ? { tokens } : {}) },
      ...(Object.keys(rates).length > 0 ? { negotiatedRates: rates } : {}),
      leaseAt: this.config.leaseAt ?? 'estimate',
    };
  }
}
