import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { isValidId } from './policy/ids';
import {
  DEFAULT_PRIORS_CONFIG,
  noisedPriors,
  priorCoordinates,
  type CostStats,
  type PriorsConfig,
  type PublishedPriors,
} from './policy/priors';
import type { ControlActivities } from './node-task';
import { chargeRelease, hasRoom, standing, type PrivacyAccounts, type PrivacyStanding } from './policy/privacy-budget';

// ── Message API ────────────────────────────────────────────────────────────────────────────────
/** An opted-in tenant's latest cost statistics; replaces its previous contribution. */
export const contributeStatsSignal = defineSignal<[{ tenantId: string; stats: CostStats }]>('contributeStats');
/** A tenant opted out: its statistics leave every future release. Past releases cannot be recalled. */
export const withdrawStatsSignal = defineSignal<[{ tenantId: string }]>('withdrawStats');
/** The latest release of noised priors (undefined before the first). */
export const priorsQuery = defineQuery<PublishedPriors | undefined>('priors');
/** Who contributes to which coordinate, and the release count: never the values. */
export const metaLearningStatusQuery = defineQuery<MetaLearningStatus>('status');

export interface MetaLearningStatus {
  contributors: string[];
  releases: number;
  /** How a tenant's privacy loss adds up over releases. */
  composition: 'basic';
  /** The most ε any tenant's data has lost in its current accounting period. */
  epsilonSpent: number;
  /** Each contributor's (and each former contributor's) account: ε spent and left, when it renews, whether it is left out. */
  privacy: PrivacyStanding[];
  config: PriorsConfig;
  coordinates: Array<{ key: string; basis: string; contributors: number; noiseScale: number }>;
}

export interface MetaLearningInput {
  config?: Partial<PriorsConfig>;
  state?: {
    contributions: Record<string, CostStats>;
    published?: PublishedPriors;
    releases: number;
    dirty: boolean;
    /** Absent in states written before privacy accounts existed. */
    accounts?: PrivacyAccounts;
  };
}

const { laplaceUniforms } = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '10s' });

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
/**
 * The one global meta-learning entity (`meta-learning`): keeps the latest cost statistics of each
 * opted-in tenant and publishes noised per-(kind, model) priors, at most once per publish interval
 * and only when contributions changed, because every release spends privacy budget.
 */
export async function metaLearning(input: MetaLearningInput = {}): Promise<never> {
  const config: PriorsConfig = {
    ...DEFAULT_PRIORS_CONFIG,
    ...input.config,
    clip: { ...DEFAULT_PRIORS_CONFIG.clip, ...input.config?.clip },
  };
  const contributions: Record<string, CostStats> = { ...input.state?.contributions };
  let published = input.state?.published;
  let releases = input.state?.releases ?? 0;
  let dirty = input.state?.dirty ?? false;
  const accounts: PrivacyAccounts = { ...input.state?.accounts };
  const standings = () => {
    const now = new Date().toISOString();
    return [...new Set([...Object.keys(contributions), ...Object.keys(accounts)])]
      .sort()
      .map((tenantId) => standing(tenantId, accounts, config, now));
  };

  setHandler(contributeStatsSignal, ({ tenantId, stats }) => {
    // Ids are checked here too: the signal can come from any client, not only a tenant entity.
    if (!isValidId(tenantId) || typeof stats !== 'object' || stats === null) return;
    contributions[tenantId] = stats;
    dirty = true;
  });
  setHandler(withdrawStatsSignal, ({ tenantId }) => {
    if (delete contributions[tenantId]) dirty = true;
  });
  setHandler(priorsQuery, () => published);
  setHandler(metaLearningStatusQuery, () => {
    const privacy = standings();
    return {
      contributors: Object.keys(contributions).sort(),
      releases,
      composition: 'basic' as const,
      epsilonSpent: Math.max(0, ...privacy.map((p) => p.epsilonSpent)),
      privacy,
      config,
      coordinates: priorCoordinates(contributions, config).map(({ key, basis, contributors, noiseScale }) => ({
        key,
        basis,
        contributors,
        noiseScale,
      })),
    };
  });

  for (;;) {
    await condition(() => dirty || workflowInfo().continueAsNewSuggested);
    if (dirty && !workflowInfo().continueAsNewSuggested) {
      const since = published ? new Date().getTime() - Date.parse(published.publishedAt) : Infinity;
      const wait = config.publishIntervalSeconds * 1000 - since;
      if (wait > 0) await condition(() => workflowInfo().continueAsNewSuggested, wait);
    }
    if (dirty && !workflowInfo().continueAsNewSuggested) {
      dirty = false;
      // Only tenants with ε left for one more release enter it; the others wait for their accounts to renew.
      const now = new Date().toISOString();
      const entering = Object.keys(contributions).filter((tenantId) => hasRoom(accounts[tenantId], config, now));
      const left = Object.keys(contributions).length - entering.length;
      if (entering.length === 0) {
        log.info('no release: every contributor has spent its privacy budget for this period', { left });
      } else {
        const coordinates = priorCoordinates(
          Object.fromEntries(entering.map((tenantId) => [tenantId, contributions[tenantId]!])),
          config,
        );
        // Noise comes from the operating system's CSPRNG in an activity, not the workflow's seeded PRNG.
        const uniforms = coordinates.length > 0 ? await laplaceUniforms({ count: coordinates.length }) : [];
        published = noisedPriors(coordinates, uniforms, config, releases + 1, now);
        releases++;
        chargeRelease(accounts, entering, config, now);
        log.info('priors published', {
          version: published.version,
          coordinates: coordinates.length,
          contributors: entering.length,
          leftOut: left,
        });
      }
      setCurrentDetails(
        `**meta-learning** · release ${releases} · ${entering.length} tenants in it${left ? ` (${left} at their privacy cap)` : ''} · ε ${config.epsilon} per release, at most ${config.epsilonTotal} per tenant per ${config.accountingSeconds / 86_400} days`,
      );
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof metaLearning>({
        config,
        state: { contributions, ...(published ? { published } : {}), releases, dirty, accounts },
      });
    }
  }
}
