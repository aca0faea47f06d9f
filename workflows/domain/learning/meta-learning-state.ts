/** The meta-learning entity's state: opted-in tenants' statistics and the published priors. */
import { isValidId } from '../ids';
import {
  DEFAULT_PRIORS_CONFIG,
  noisedPriors,
  releaseCoordinates,
  type CostStats,
  type PriorsConfig,
  type PublishedPriors,
  type ReleaseCoordinates,
  type TokenStats,
} from './priors';
import { chargeRelease, hasRoom, standing, type PrivacyAccounts } from './privacy-budget';
import type { MetaLearningInput, MetaLearningState, MetaLearningStatus } from '../../messages/meta-learning';

/**
 * The meta-learning entity's state and rules, free of Temporal calls: the opted-in tenants' latest
 * statistics, the last release, and each tenant's privacy account. The metaLearning workflow maps
 * its messages onto it and decides only when to release.
 */
export class MetaLearningLedger {
  readonly config: PriorsConfig;
  private readonly contributions: Record<string, CostStats>;
  private readonly tokenContributions: Record<string, TokenStats>;
  private readonly accounts: PrivacyAccounts;
  published: PublishedPriors | undefined;
  releases: number;
  /** Contributions changed since the last release. */
  dirty: boolean;

  constructor(input: MetaLearningInput) {
    this.config = {
      ...DEFAULT_PRIORS_CONFIG,
      ...input.config,
      clip: { ...DEFAULT_PRIORS_CONFIG.clip, ...input.config?.clip },
    };
    this.contributions = { ...input.state?.contributions };
    this.tokenContributions = { ...input.state?.tokens };
    this.published = input.state?.published;
    this.releases = input.state?.releases ?? 0;
    this.dirty = input.state?.dirty ?? false;
    this.accounts = { ...input.state?.accounts };
  }

  /** A tenant's new statistics. Ids are checked here too: the signal can come from any client, not only a tenant entity. */
  contribute(tenantId: string, stats: CostStats, tokens?: TokenStats): void {
    if (!isValidId(tenantId) || typeof stats !== 'object' || stats === null) return;
    this.contributions[tenantId] = stats;
    if (tokens && typeof tokens === 'object') this.tokenContributions[tenantId] = tokens;
    else delete this.tokenContributions[tenantId];
    this.dirty = true;
  }

  withdraw(tenantId: string): void {
    delete this.contributions[tenantId];
    delete this.tokenContributions[tenantId];
    this.dirty = true;
  }

  /** How long until the next release may go out (publish interval after the last one); 0 = now. */
  msUntilRelease(now: number): number {
    const since = this.published ? now - Date.parse(this.published.publishedAt) : Infinity;
    return Math.max(0, this.config.publishIntervalSeconds * 1000 - since);
  }

  /**
   * The coordinates of the next release: only tenants with ε left for one more enter it, the
   * others wait for their accounts to renew.
   */
  nextRelease(now: string): { entering: string[]; left: number; coordinates: ReleaseCoordinates } {
    this.dirty = false;
    const entering = Object.keys(this.contributions).filter((tenantId) =>
      hasRoom(this.accounts[tenantId], this.config, now),
    );
    const left = Object.keys(this.contributions).length - entering.length;
    const of = <T>(all: Record<string, T>) =>
      Object.fromEntries(entering.filter((tenantId) => tenantId in all).map((tenantId) => [tenantId, all[tenantId]!]));
    const coordinates = releaseCoordinates(of(this.contributions), of(this.tokenContributions), this.config);
    return { entering, left, coordinates };
  }

  /** Publishes the release with its noise draws and charges every tenant in it. */
  publish(
    release: { entering: string[]; coordinates: ReleaseCoordinates },
    uniforms: number[],
    now: string,
  ): PublishedPriors {
    this.published = noisedPriors(release.coordinates, uniforms, this.config, this.releases + 1, now);
    this.releases++;
    chargeRelease(this.accounts, release.entering, this.config, now);
    return this.published;
  }

  status(now: string): MetaLearningStatus {
    const privacy = [...new Set([...Object.keys(this.contributions), ...Object.keys(this.accounts)])]
      .sort()
      .map((tenantId) => standing(tenantId, this.accounts, this.config, now));
    return {
      contributors: Object.keys(this.contributions).sort(),
      releases: this.releases,
      composition: 'basic',
      epsilonSpent: Math.max(0, ...privacy.map((p) => p.epsilonSpent)),
      privacy,
      config: this.config,
      coordinates: (({ cost, tokens }) => [
        ...cost.map(({ key, basis, contributors, noiseScale }) => ({ key, basis, contributors, noiseScale })),
        ...tokens.map(({ key, contributors, noiseScale }) => ({ key, basis: 'histogram', contributors, noiseScale })),
      ])(releaseCoordinates(this.contributions, this.tokenContributions, this.config)),
    };
  }

  carryOver(): MetaLearningInput {
    const { contributions, tokenContributions: tokens, published, releases, dirty, accounts } = this;
    const state: MetaLearningState = {
      contributions,
      ...(Object.keys(tokens).length > 0 ? { tokens } : {}),
      ...(published ? { published } : {}),
      releases,
      dirty,
      accounts,
    };
    return { config: this.config, state };
  }
}
