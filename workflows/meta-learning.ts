/** The metaLearning workflow: the one global entity of cross-tenant priors. */
import {
  allHandlersFinished,
  condition,
  log,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import { EntityLifetime } from './tenant/entity-lifetime';
import { MetaLearningLedger } from './domain/learning/meta-learning-state';
import { drawsFor } from './domain/learning/priors';
import type { ControlActivities } from './ports/activities';
import {
  contributeStatsSignal,
  metaLearningStatusQuery,
  priorsQuery,
  withdrawStatsSignal,
  type MetaLearningInput,
} from './messages/meta-learning';

// ── Message API (declared in ./messages/meta-learning) ─────────────────────────────────────────
export type { MetaLearningInput, MetaLearningStatus } from './messages/meta-learning';

const { laplaceUniforms } = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '10s' });
/** A release the exchange did not take (the directory's active region unreachable) is offered again this often, until it is. */
const SHARE_RETRY_MS = 60_000;
const { shareRelease } = proxyLocalActivities<ControlActivities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '30s',
});

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
/**
 * The one global meta-learning entity (`meta-learning`, on the entities' task queue): keeps the latest cost statistics of each
 * opted-in tenant and publishes noised per-(kind, model) priors, at most once per publish interval
 * and only when contributions changed, because every release spends privacy budget.
 */
export async function metaLearning(input: MetaLearningInput = {}): Promise<never> {
  const ledger = new MetaLearningLedger(input);
  const lifetime = new EntityLifetime<typeof metaLearning>();
  setHandler(contributeStatsSignal, ({ tenantId, stats, tokens }) => ledger.contribute(tenantId, stats, tokens));
  setHandler(withdrawStatsSignal, ({ tenantId }) => ledger.withdraw(tenantId));
  setHandler(priorsQuery, () => ledger.published);
  setHandler(metaLearningStatusQuery, () => ledger.status(new Date().toISOString()));

  const due = () => lifetime.due();
  // Shared with every region (input.share) and not yet taken by the exchange.
  let unshared = false;
  const share = async () => {
    const published = ledger.published;
    if (!published) return;
    unshared = !(await shareRelease({ priors: published }).then(
      () => true,
      (err: unknown) => {
        log.warn('the priors exchange did not take the release; offered again later', { error: String(err) });
        return false;
      },
    ));
  };
  for (;;) {
    const woken = () => ledger.dirty || due();
    if (unshared) {
      if (!(await condition(woken, SHARE_RETRY_MS))) await share();
      if (!woken()) continue;
    } else await condition(woken);
    // Every release spends privacy budget: at most one per publish interval.
    const wait = ledger.dirty && !due() ? ledger.msUntilRelease(new Date().getTime()) : 0;
    if (wait > 0) await condition(due, wait);
    if (ledger.dirty && !due() && (await release(ledger, input.share)) && input.share) await share();
    if (due()) {
      await condition(allHandlersFinished);
      await lifetime.continueAsNew({ ...ledger.carryOver(), ...(input.share ? { share: true } : {}) });
    }
  }
}

/** Publishes a release unless every contributor is at its privacy cap; true when it did. */
async function release(ledger: MetaLearningLedger, shared = false): Promise<boolean> {
  const now = new Date().toISOString();
  const next = ledger.nextRelease(now);
  const released = next.entering.length > 0;
  if (!released) {
    log.info('no release: every contributor has spent its privacy budget for this period', { left: next.left });
  } else {
    // Noise comes from the operating system's CSPRNG in an activity, not the workflow's seeded PRNG.
    const count = drawsFor(next.coordinates);
    const uniforms = count > 0 ? await laplaceUniforms({ count }) : [];
    const published = ledger.publish(next, uniforms, now);
    log.info('priors published', {
      version: published.version,
      coordinates: next.coordinates.cost.length + next.coordinates.tokens.length,
      contributors: next.entering.length,
      leftOut: next.left,
    });
  }
  const { config, releases } = ledger;
  setCurrentDetails(
    `**meta-learning**${shared ? ' (all regions)' : ''} · release ${releases} · ${next.entering.length} tenants in it${next.left ? ` (${next.left} at their privacy cap)` : ''} · ε ${config.epsilon} per release, at most ${config.epsilonTotal} per tenant per ${config.accountingSeconds / 86_400} days`,
  );
  return released;
}
