/** ADOS's configuration from the environment, checked with zod. */
import { z } from 'zod';
import { blockSecondsProblem } from '../workflows/domain/admission/blocks';
import { DEFAULT_NODE_PARTITIONS } from '../workflows/domain/run/routing';

/** A region's name (`ados cluster up --regions`): its Temporal cluster name and part of its namespaces' names. */
export const REGION_NAME = /^[a-z][a-z0-9]{0,11}$/;

/** How long the API's admission blocks last unless ADOS_ADMISSION_BLOCK_SECONDS says otherwise. */
export const DEFAULT_ADMISSION_BLOCK_SECONDS = 30;

/**
 * Every ADOS setting read from the environment, in one zod schema (how to reach Temporal is
 * infra/temporal-connection.ts's, through Temporal's own environment configuration). Processes load it once at
 * start-up, so a bad value stops them with a message naming the variable instead of failing later.
 */
const port = z.coerce.number().int().min(0).max(65_535);

export const configSchema = z
  .object({
    /** Where node kinds run without a provider given: `offline` (deterministic, no network), `local` (the real small model on the CPU) or `openai`. @default 'offline' */
    ADOS_LLM_PROVIDER: z.enum(['offline', 'local', 'openai']).default('offline'),
    /** The local model's GGUF file. @default the cache `npm run llm:install` fills ($XDG_CACHE_HOME or ~/.cache)/ados/models */
    ADOS_LLM_MODEL_PATH: z.string().min(1).optional(),
    /** Threads the local model uses per process (1 suits a 2-core machine: 2 collapse under load). @default 1 */
    ADOS_LLM_THREADS: z.coerce.number().int().min(1).max(64).default(1),
    /**
     * The local model's price in USD per million tokens, `input,output` (what running it costs the
     * deployment, charged like any model's usage). @default '0.15,0.6' (a hosted small model's rate)
     */
    ADOS_LOCAL_LLM_RATE: z
      .string()
      .regex(/^\d+(\.\d+)?,\d+(\.\d+)?$/, 'must be `input,output` USD per million tokens, e.g. 0.15,0.6')
      .transform((text) => {
        const [input, output] = text.split(',').map(Number) as [number, number];
        return { inputPerMtok: input, outputPerMtok: output };
      })
      .default({ inputPerMtok: 0.15, outputPerMtok: 0.6 }),
    /** The OpenAI-compatible endpoint of the `openai` provider. @default 'https://api.openai.com/v1' */
    OPENAI_BASE_URL: z.string().url().default('https://api.openai.com/v1'),
    /** Its API key. */
    OPENAI_API_KEY: z.string().min(1).optional(),
    /** The folder retrieval.search indexes when a node gives none. @default the project's docs/ */
    ADOS_CORPUS_DIR: z.string().min(1).optional(),
    /** A Temporal CLI to use instead of finding or installing one. */
    TEMPORAL_CLI_PATH: z.string().min(1).optional(),
    /** The chromium the Web UI test drives. @default Debian's /usr/bin/chromium */
    ADOS_CHROMIUM_PATH: z.string().min(1).optional(),
    /** Where `ados cluster` keeps the binaries it builds. @default $XDG_CACHE_HOME/ados/cluster or ~/.cache/ados/cluster */
    ADOS_CLUSTER_CACHE: z.string().min(1).optional(),
    /** PostgreSQL's server binaries for `ados cluster`. @default the newest /usr/lib/postgresql/N/bin */
    ADOS_POSTGRES_BIN: z.string().min(1).optional(),
    /** @default './artifacts' */
    ADOS_ARTIFACTS_DIR: z.string().min(1).default('artifacts'),
    /** How many node task queues (ados-nodes-{n}) tenants are spread over. @default 4 */
    ADOS_NODE_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(DEFAULT_NODE_PARTITIONS),
    /**
     * The region this process runs in, in a deployment of several (`ados cluster up --regions`):
     * node activities then complete through the worker's client, retrying across a failover, and an
     * execution its run did not take is charged to its tenant apart (activities/durable-completion.ts).
     */
    ADOS_REGION: z
      .string()
      .regex(REGION_NAME, 'must be a region name: a lower-case letter, then up to 11 letters or digits')
      .optional(),
    /**
     * Cheaper-model chains over the defaults, as JSON: `{"gpt-4o":"gpt-4.1-mini","gpt-4.1":""}` ("" = no
     * cheaper model). @default {}
     */
    ADOS_CHEAPER_MODELS: z
      .string()
      .transform((text, ctx) => {
        try {
          const parsed = z.record(z.string().min(1).max(128), z.string().max(128)).parse(JSON.parse(text));
          return parsed;
        } catch {
          ctx.addIssue({
            code: 'custom',
            message: 'must be a JSON object of model names, e.g. {"gpt-4o":"gpt-4o-mini"}',
          });
          return z.NEVER;
        }
      })
      .default({}),
    /** The key ring that seals secrets (infra/seal.ts): JSON, or the path of a JSON file. @default ~/.ados/keyring.json (generated) */
    ADOS_KEYRING: z.string().min(1).optional(),
    /** Payload encryption of every client and worker (infra/payload-codec.ts): `aes` seals payloads with the key ring; `none` stores them as plain JSON. @default 'aes' */
    ADOS_PAYLOAD_CODEC: z.enum(['none', 'aes']).default('aes'),
    /** Let budget alerts go to private, loopback and link-local addresses. @default false */
    ADOS_ALERT_ALLOW_PRIVATE: z
      .enum(['true', 'false', '1', '0'])
      .transform((v) => v === 'true' || v === '1')
      .default(false),
    /** @default 'info' */
    ADOS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The API's admin token; without it only tenant tokens work (and none can be issued). */
    ADOS_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** @default 8080 */
    ADOS_API_PORT: port.default(8080),
    /** @default '127.0.0.1' */
    ADOS_API_HOST: z.string().min(1).default('127.0.0.1'),
    /**
     * How long an admission block the API leases from a tenant lasts, in seconds (5 to 300); the API
     * admits runs against its blocks with no round trip to the tenant (docs/GOVERNANCE.md). 0: every
     * run is admitted by its tenant's entity. @default 30
     */
    ADOS_ADMISSION_BLOCK_SECONDS: z.coerce
      .number()
      .int()
      .superRefine((s, ctx) => {
        const problem = blockSecondsProblem(s);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default(DEFAULT_ADMISSION_BLOCK_SECONDS),
    /** Requests per minute per token (or per address without one). @default 600 */
    ADOS_API_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(600),
    /** Largest request body in bytes. @default 1048576 */
    ADOS_API_BODY_LIMIT: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** How long the API trusts a checked tenant token before asking its entity again. @default 10 */
    ADOS_API_TOKEN_CACHE_SECONDS: z.coerce.number().min(0).max(3600).default(10),
    /** A worker's Prometheus port (0 = off). @default 0 */
    ADOS_METRICS_PORT: port.default(0),
    /** Where the demo links its runs in the Web UI when it uses a server it did not start. @default 'http://localhost:8233' */
    ADOS_WEB_UI_URL: z.string().url().default('http://localhost:8233'),
    /** Privacy loss per release of the cross-tenant priors. @default 1 */
    ADOS_META_EPSILON: z.coerce.number().min(0.001).max(10_000).default(1),
    /** Most privacy loss an opted-in tenant's data may suffer per accounting period (basic composition). @default 10 */
    ADOS_META_EPSILON_TOTAL: z.coerce.number().min(0.001).max(1_000_000).default(10),
    /** An opted-in tenant's privacy accounting period. @default 2592000 (30 days) */
    ADOS_META_ACCOUNTING_SECONDS: z.coerce.number().int().min(1).max(315_360_000).default(2_592_000),
    /** Least time between two releases of the priors. @default 3600 */
    ADOS_META_PUBLISH_SECONDS: z.coerce.number().min(0).max(31_536_000).default(3600),
  })
  .superRefine((config, ctx) => {
    if (config.ADOS_META_EPSILON > config.ADOS_META_EPSILON_TOTAL)
      ctx.addIssue({
        code: 'custom',
        path: ['ADOS_META_EPSILON_TOTAL'],
        message: `must be at least ADOS_META_EPSILON (${config.ADOS_META_EPSILON}): no release would fit in a tenant's budget`,
      });
  });

export type AdosConfig = z.output<typeof configSchema>;

/**
 * The process environment, for the readers that take it whole: Temporal's own environment
 * configuration (infra/temporal-connection.ts) and child processes. Every other setting is read
 * through `loadConfig`.
 */
export function environment(): NodeJS.ProcessEnv {
  return process.env;
}

/** The settings, or for code that must not stop on a bad unrelated variable (the logger) the defaults. */
export function settingsOrDefaults(): AdosConfig {
  try {
    return loadConfig();
  } catch {
    return configSchema.parse({});
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads the settings from `env`, with `overrides` (from command-line flags) taking precedence.
 * Empty variables count as unset. Throws a ConfigError naming every bad variable.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof AdosConfig, unknown>> = {},
): AdosConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) raw[key] = value;
  // Read on hot paths (the payload codec's key ring, every run's launch): parsed again only when a setting changed.
  const key = JSON.stringify(raw);
  if (lastLoaded?.key === key) return lastLoaded.config;
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    // Secrets are named, never echoed.
    const shown = (key: string) => (/TOKEN|SECRET|KEY/.test(key) ? '(hidden)' : JSON.stringify(raw[key]));
    const problems = parsed.error.issues.map((i) => `${String(i.path[0])}=${shown(String(i.path[0]))}: ${i.message}`);
    throw new ConfigError(`bad configuration: ${problems.join('; ')}`);
  }
  lastLoaded = { key, config: parsed.data };
  return parsed.data;
}

let lastLoaded: { key: string; config: AdosConfig } | undefined;

/** ADOS_NODE_PARTITIONS of this deployment (validated, parsed again only when the environment changed). */
export function nodePartitions(env: NodeJS.ProcessEnv = environment()): number {
  return loadConfig(env).ADOS_NODE_PARTITIONS;
}
