/** The learning profile's settings schema. */
import { z } from 'zod';
import { DEFAULT_BUDGET_SHARES, DEFAULT_EXPLORATION_RATES, INTENSITIES, type Intensity } from './intensity';

/**
 * The learning profile's settings schema, apart from learning.ts's rules so that a run, which uses
 * the rules, does not build it (each workflow execution builds the schemas its modules define).
 */
export const learningIntensitySchema = z.enum(INTENSITIES);

/** How far a tenant's contribution to the cross-tenant priors may reach (docs/LEARNING.md). */
export const META_LEARNING_SCOPES = ['placement', 'all-regions'] as const;
export type MetaLearningScope = (typeof META_LEARNING_SCOPES)[number];

const perIntensity = (defaults: Record<Intensity, number>, max: number) =>
  z
    .object({
      CONSERVATIVE: z.number().min(0).max(max).default(defaults.CONSERVATIVE),
      BALANCED: z.number().min(0).max(max).default(defaults.BALANCED),
      AGGRESSIVE: z.number().min(0).max(max).default(defaults.AGGRESSIVE),
    })
    .strict()
    .default(defaults);

export const learningConfigSchema = z
  .object({
    /** @default 'BALANCED' */
    intensity: learningIntensitySchema.default('BALANCED'),
    /** Contribute noised cost statistics to the cross-tenant priors, and start from them. @default false */
    metaLearningOptIn: z.boolean().default(false),
    /**
     * In a deployment of regions, where the tenant's contribution may reach: `placement` keeps its
     * statistics and every release they enter within its placement's regions; `all-regions` lets
     * the releases they enter (noised, never the statistics) go to every region. @default 'placement'
     */
    metaLearningScope: z.enum(META_LEARNING_SCOPES).default('placement'),
    /** Share of the budget that learning may spend, per intensity. @default 5% / 10% / 20% */
    budgetShares: perIntensity(DEFAULT_BUDGET_SHARES, 1),
    /** Share of runs that explore in shadow, per intensity. @default 0 / 0.2 / 0.5 */
    explorationRates: perIntensity(DEFAULT_EXPLORATION_RATES, 1),
    /** A cheaper variant is good enough when its mean quality is at most this much below the full one's. @default 0.05 */
    qualityTolerance: z.number().min(0).max(1).default(0.05),
    /** Shadow comparisons needed before a cheaper variant is preferred. @default 5 */
    minSamples: z.number().int().min(1).max(10_000).default(5),
  })
  .strict();
