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

export { firstLeaseMicros } from '../admission/queue';
export type { BlockLeaseAnswer } from '../admission/block-leasing';
export { CHARGED_KEYS_KEPT, TenantLedgerCore, type TenantLedgerState } from './ledger-core';

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
