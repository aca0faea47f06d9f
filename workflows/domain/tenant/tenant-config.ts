/** A tenant's configuration and its schema. */
import { z } from 'zod';
import { idSchema } from '../run/dag-schema';
import { learningConfigSchema } from '../learning/profile-schema';

/**
 * A tenant's configuration: its schema (checked by the entity's update validator and by the API), and
 * how a patch merges over the current config.
 */

/** How a tenant's budget renews. */
export const BUDGET_PERIODS = ['none', 'daily', 'monthly'] as const;

/** USD per million tokens: what a tenant negotiated with a provider. */
const perMtok = z.number().min(0).max(10_000);

export const negotiatedRateSchema = z
  .object({ inputPerMtok: perMtok, outputPerMtok: perMtok, cachedInputPerMtok: perMtok.optional() })
  .strict();

/** Budget alerts as the entity keeps them: the signing secret only sealed (see infra/seal.ts). */
export const alertsConfigSchema = z
  .object({
    webhookUrl: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s/?#]+\S*$/i, 'must be an http(s) URL')
      .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL'),
    secretSealed: z.string().startsWith('sealed:v1:', 'must be sealed by an ADOS client (give alerts.secret to one)'),
    /** Shares of the budget at which `budget.threshold_crossed` is raised, once each per period. @default [0.5, 0.8, 1.0] */
    thresholds: z
      .array(z.number().gt(0).max(10))
      .max(10)
      .refine((t) => new Set(t).size === t.length, 'thresholds must differ')
      .meta({ uniqueItems: true })
      .default([0.5, 0.8, 1.0]),
    /** Raise `budget.exhaustion_projected` when the recent burn rate would use up the budget before the period ends. @default true */
    projectedExhaustion: z.boolean().default(true),
  })
  .strict();

export type AlertsConfig = z.output<typeof alertsConfigSchema>;

export const tenantConfigSchema = z
  .object({
    tenantId: idSchema,
    /** Money the tenant may spend per period. @default 100 */
    budgetUsd: z.number().min(0.000001, 'must be at least $0.000001 (one micro-dollar)').max(1e9).default(100),
    /** @default 'monthly' */
    period: z.enum(BUDGET_PERIODS).default('monthly'),
    /** A period of this many seconds instead of a calendar one: for tests and short demos. @default none */
    periodSeconds: z.number().int().min(1).max(31_536_000).optional(),
    /** @default 10 */
    maxConcurrentRuns: z.number().int().min(1).max(10_000).default(10),
    /** Share of maxConcurrentRuns above which only priority 1–2 runs are admitted at once. @default 0.8 */
    backpressureThreshold: z.number().gt(0).max(1).default(0.8),
    thresholds: z
      .object({ warning: z.number().gt(0).lt(1).default(0.7), critical: z.number().gt(0).lt(1).default(0.9) })
      .strict()
      .refine((t) => t.warning < t.critical, { message: 'warning must be below critical' })
      .describe('budget shares at which the status turns WARNING and CRITICAL; warning must be below critical')
      .default({ warning: 0.7, critical: 0.9 }),
    /** Run this tenant's nodes on `ados-tenant-{id}` instead of a shared partition. @default false */
    dedicatedQueue: z.boolean().default(false),
    /** Learning intensity, its budget shares and exploration rates, meta-learning opt-in (docs/LEARNING.md). */
    learning: learningConfigSchema.default(learningConfigSchema.parse({})),
    /**
     * What a run's lease reserves: its estimated cost (`estimate`), or the 95th percentile of its
     * quote (`p95`), so that a run dearer than its estimate rarely has to ask for more mid-run.
     * @default 'estimate'
     */
    leaseAt: z.enum(['estimate', 'p95']).default('estimate'),
    /**
     * Negotiated LLM rates per model, in USD per million tokens, charged instead of the price
     * source's from the next node on and recorded with each charge. A patch replaces the whole map.
     * @default {}
     */
    negotiatedRates: z
      .record(z.string().min(1).max(128), negotiatedRateSchema)
      .refine((rates) => Object.keys(rates).length <= 50, { message: 'at most 50 models' })
      .meta({ maxProperties: 50 })
      .default({}),
    /** Signed budget alerts to a webhook (docs/ALERTS.md). @default none */
    alerts: alertsConfigSchema.optional(),
  })
  .strict();

export type TenantConfigInput = z.input<typeof tenantConfigSchema>;

export type TenantConfig = z.output<typeof tenantConfigSchema>;

/**
 * A change to an existing tenant: any subset of the fields, merged over the current config. Alerts
 * merge field by field (a new secret is optional once one is set); `alerts: null` turns them off.
 */
export const tenantConfigPatchSchema = tenantConfigSchema.partial().extend({
  tenantId: idSchema.optional(),
  alerts: alertsConfigSchema.partial().nullable().optional(),
});

export type TenantConfigPatch = z.input<typeof tenantConfigPatchSchema>;

/**
 * A Standard Webhooks signing secret: `whsec_` and 24 to 64 random bytes in base64. The pattern
 * bounds the characters (32 to 86, and padding); the refinement checks the decoded bytes exactly.
 */
export const webhookSecretSchema = z
  .string()
  .min(38)
  .max(94)
  .regex(
    /^whsec_[A-Za-z0-9+/]{32,86}={0,2}$/,
    'must be whsec_ followed by 24 to 64 bytes in base64 (e.g. whsec_$(openssl rand -base64 32))',
  )
  .refine((s) => {
    // Decoded length of the base64 (no Buffer: this file is workflow code too).
    const b64 = s.slice('whsec_'.length);
    const bytes = Math.floor((b64.replace(/=+$/, '').length * 3) / 4);
    return bytes >= 24 && bytes <= 64;
  }, 'must hold 24 to 64 bytes after whsec_');

/** Alerts as a caller gives them: the secret in plaintext, which the client seals before it leaves. */
export const alertsInputSchema = alertsConfigSchema
  .omit({ secretSealed: true })
  .extend({ secret: webhookSecretSchema.describe('the signing secret; stored sealed, never shown again') })
  .partial()
  .strict();

/** A change as the API and CLI take it: a patch whose alerts carry their secret in plaintext. */
export const tenantSettingsSchema = tenantConfigPatchSchema.extend({
  alerts: alertsInputSchema.nullable().optional().describe('signed budget alerts; null turns them off'),
});

export type TenantSettings = z.input<typeof tenantSettingsSchema>;

/** The fields a patch gives, over the current config; nested thresholds and learning merge field by field. */
export function mergeTenantConfig(current: TenantConfig, patch: TenantConfigPatch): TenantConfigInput {
  const given = stripUndefined(patch);
  return {
    ...current,
    ...given,
    tenantId: current.tenantId,
    thresholds: { ...current.thresholds, ...stripUndefined(patch.thresholds ?? {}) },
    learning: { ...current.learning, ...stripUndefined(patch.learning ?? {}) },
    alerts:
      patch.alerts === null
        ? undefined
        : patch.alerts
          ? { ...current.alerts, ...stripUndefined(patch.alerts) }
          : current.alerts,
  } as TenantConfigInput;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
