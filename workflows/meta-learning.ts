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
  /** ε spent per contributor so far under basic composition: releases × ε. */
  epsilonSpent: number;
  config: PriorsConfig;
  coordinates: Array<{ key: string; basis: string; contributors: number; noiseScale: number }>;
}

export interface MetaLearningInput {
  config?: Partial<PriorsConfig>;
  state?: { contributions: Record<string, CostStats>; published?: PublishedPriors; releases: number; dirty: boolean };
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
  setHandler(metaLearningStatusQuery, () => ({
    contributors: Object.keys(contributions).sort(),
    releases,
    epsilonSpent: releases * config.epsilon,
    config,
    coordinates: priorCoordinates(contributions, config).map(({ key, basis, contributors, noiseScale }) => ({
      key,
      basis,
      contributors,
      noiseScale,
    })),
  }));

  for (;;) {
    await condition(() => dirty || workflowInfo().continueAsNewSuggested);
    if (dirty && !workflowInfo().continueAsNewSuggested) {
      const since = published ? new Date().getTime() - Date.parse(published.publishedAt) : Infinity;
      const wait = config.publishIntervalSeconds * 1000 - since;
      if (wait > 0) await condition(() => workflowInfo().continueAsNewSuggested, wait);
    }
    if (dirty && !workflowInfo().continueAsNewSuggested) {
      dirty = false;
      const coordinates = priorCoordinates(contributions, config);
      // Noise comes from the operating system's CSPRNG in an activity, not the workflow's seeded PRNG.
      const uniforms = coordinates.length > 0 ? await laplaceUniforms({ count: coordinates.length }) : [];
      published = noisedPriors(coordinates, uniforms, config, releases + 1, new Date().toISOString());
      releases++;
      log.info('priors published', {
        version: published.version,
        coordinates: coordinates.length,
        contributors: Object.keys(contributions).length,
      });
      setCurrentDetails(
        `**meta-learning** · release ${releases} · ${Object.keys(contributions).length} contributing tenants · ${coordinates.length} coordinates · ε ${config.epsilon} per release`,
      );
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof metaLearning>({
        config,
        state: { contributions, ...(published ? { published } : {}), releases, dirty },
      });
    }
  }
}
