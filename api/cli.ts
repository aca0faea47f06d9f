import { Command, InvalidArgumentError, Option } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DEFAULT_DB_FILE, startDevServer, temporalAnswers } from '../infra/dev-server';
import { createAdosWorkers, nodeQueuesFor, runAdosWorkers } from '../workers/ados-worker';
import { installTemporalLogging } from '../workers/logging';
import { logger } from '../activities/logger';
import type { DeliveryRunResult } from '../workflows/policy/run-result';
import type { TenantConfigPatch, TenantSettings } from '../workflows/policy/tenant-config';
import type { TenantStatus } from '../workflows/policy/tenant-status';
import {
  UserError,
  configureTenant,
  connectClient,
  quote,
  runHandle,
  runOutcome,
  runProgress,
  startRun,
  tenantReport,
  tenantStatus,
} from './client';
import type { RunQuote } from '../workflows/policy/quote';
import { createBars, nodesDone, poll } from './progress';
import { readRunFile } from './run-file';
import { historyFiles, replayHistories } from './replay';
import { runDemo } from './demo';
import { ensureExportSchedule } from './schedules';
import { ExecutionTrace } from '../workers/execution-trace';
import { exportFinished } from '../activities/export/exporter';
import { showbackCsv } from '../activities/export/showback';
import { artifactsRoot } from '../activities/export/atomic';
import { ID_PATTERN, isValidId } from '../workflows/policy/ids';
import { environment, loadConfig, ConfigError } from '../infra/config';
import { clusterDown, clusterStatus, clusterUp, type ClusterUpOptions } from '../infra/cluster/cluster';
import { DEFAULT_CLUSTER_DIR } from '../infra/cluster/layout';
import { connectWorker, temporalClient, temporalTarget } from '../infra/temporal-connection';
import { CONTROL_TASK_QUEUE } from '../workflows/policy/ids';
import { buildApi } from './http/app';
import { CODEC_SERVER_PORT, buildCodecServer, localCodecServerIfSealed } from './codec-server';
import { issueTenantToken, revokeTenantToken } from './http/tokens';
import { createMetrics } from '../infra/metrics';
import { freePort } from '../infra/ports';
import { serveWorkerMetrics } from '../workers/metrics';
import { formatUsd } from '../workflows/policy/catalog';

/** Exit codes scripts can rely on. */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  INVALID: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  UNAVAILABLE: 5,
  RUN_NOT_SUCCESSFUL: 6,
} as const;

const program = new Command('ados')
  .description('ADOS — Agentic Delivery OS: multi-tenant AI delivery runs on Temporal')
  .option('--json', 'print machine-readable JSON')
  .option('--verbose', 'print stack traces on errors')
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText(
    'after',
    `
Temporal:    TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default), TEMPORAL_PROFILE, TEMPORAL_API_KEY,
             TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH / _SERVER_CA_CERT_PATH (docs/DEPLOYMENT.md)
Environment: ADOS_ARTIFACTS_DIR (./artifacts), ADOS_NODE_PARTITIONS (4), TEMPORAL_CLI_PATH
Exit codes:  0 ok · 1 error · 2 invalid input · 3 not found · 4 conflict · 5 Temporal unavailable · 6 run did not succeed`,
  );

const json = () => Boolean(program.opts().json);

function print(value: unknown, human: () => string): void {
  process.stdout.write(`${json() ? JSON.stringify(value, null, 2) : human()}\n`);
}

function int(name: string, min: number, max: number) {
  return (raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

function positiveNumber(name: string) {
  return (raw: string) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

/** An id from the command line, checked before it reaches Temporal or a path. */
function assertCliId(what: string, value: string): string {
  if (!isValidId(value))
    throw new UserError(`invalid ${what} ${JSON.stringify(value)}: ids must match ${ID_PATTERN.source}`);
  return value;
}

/** Resolves on Ctrl-C or SIGTERM: long-running commands then stop what they started. */
function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/** The alert options of `tenant set`: undefined when none is given, null for --no-alerts. */
function alertSettings(opts: Record<string, unknown>): TenantSettings['alerts'] {
  const secretEnv = opts.alertSecretEnv as string | undefined;
  if (secretEnv !== undefined && environment()[secretEnv] === undefined)
    throw new UserError(`--alert-secret-env: ${secretEnv} is not set`);
  const secret = (opts.alertSecret as string | undefined) ?? (secretEnv ? environment()[secretEnv] : undefined);
  const given = {
    ...(opts.alertUrl !== undefined ? { webhookUrl: opts.alertUrl as string } : {}),
    ...(secret !== undefined ? { secret } : {}),
    ...(opts.alertThresholds !== undefined ? { thresholds: opts.alertThresholds as number[] } : {}),
    ...(opts.projectedExhaustion === false ? { projectedExhaustion: false } : {}),
  };
  if (opts.alerts === false) {
    if (Object.keys(given).length > 0) throw new UserError('give --no-alerts alone, without other --alert options');
    return null;
  }
  return Object.keys(given).length > 0 ? given : undefined;
}

/** `--rate gpt-4o=2,8[,1]`: a model's negotiated input, output (and cached input) USD per million tokens. */
function negotiatedRate(
  raw: string,
  rates: Record<string, { inputPerMtok: number; outputPerMtok: number; cachedInputPerMtok?: number }>,
) {
  const match = /^([^=\s]+)=([^,]+),([^,]+)(?:,([^,]+))?$/.exec(raw);
  const [input, output, cached] = (match?.slice(2) ?? []).map((v) => (v === undefined ? undefined : Number(v)));
  if (!match || [input, output, cached].some((v) => v !== undefined && !(Number.isFinite(v) && v >= 0)))
    throw new InvalidArgumentError(
      `--rate wants MODEL=IN,OUT[,CACHED] in USD per million tokens, e.g. gpt-4o=2,8,1 (got ${raw})`,
    );
  return {
    ...rates,
    [match[1]!]: {
      inputPerMtok: input!,
      outputPerMtok: output!,
      ...(cached !== undefined ? { cachedInputPerMtok: cached } : {}),
    },
  };
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

// ── dev ──
program
  .command('dev')
  .description('run the embedded Temporal dev server with the Web UI (persistent SQLite under .temporal/)')
  .option('--port <port>', 'gRPC port', int('port', 1, 65535), 7233)
  .option('--ui-port <port>', 'Web UI port', int('ui port', 1, 65535), 8233)
  .option('--db <file>', 'SQLite file', DEFAULT_DB_FILE)
  .action(async (opts: { port: number; uiPort: number; db: string }) => {
    const address = `127.0.0.1:${opts.port}`;
    if (await temporalAnswers(address)) {
      print({ address, started: false }, () => `a Temporal server already answers at ${address}; using it`);
      return;
    }
    const config = loadConfig();
    // With payload encryption on, a codec server beside the dev server lets its Web UI and the Temporal CLI read runs.
    const codec = await localCodecServerIfSealed(logger);
    const server = await startDevServer({
      port: opts.port,
      uiPort: opts.uiPort,
      dbFile: opts.db,
      uiCodecEndpoint: codec?.uiEndpoint,
    });
    const client = codec && (await temporalClient(temporalTarget({ address: server.address })));
    const stopCodec = codec && client && (await codec.serve(client, server.uiUrl ?? config.ADOS_WEB_UI_URL));
    print(
      { address: server.address, uiUrl: server.uiUrl, db: opts.db, started: true, codec: codec?.shownCliEnv },
      () =>
        `Temporal dev server at ${server.address} · Web UI ${server.uiUrl} · state in ${opts.db}` +
        (codec
          ? `\npayloads are encrypted; the Web UI decodes them through the codec server at ${codec.url}; for the Temporal CLI:\n` +
            `  export ${Object.entries(codec.shownCliEnv)
              .map(([k, v]) => `${k}="${v}"`)
              .join(' ')}`
          : '') +
        '\nCtrl-C to stop',
    );
    await untilStopped();
    await stopCodec?.();
    await client?.connection.close();
    await server.stop();
  });

// ── cluster ──
const cluster = program
  .command('cluster')
  .description(
    'a self-hosted Temporal cluster on this machine: Temporal Server on PostgreSQL, built from source once (docs/DEPLOYMENT.md)',
  );
const clusterDirOption = () =>
  new Option('--dir <dir>', 'where the cluster keeps its config, certificates, data and logs').default(
    DEFAULT_CLUSTER_DIR,
    '.temporal/cluster',
  );

cluster
  .command('up')
  .description(
    'build (first time), start PostgreSQL and Temporal Server, create the namespace and search attributes; on an existing cluster, start again every part that is down',
  )
  .addOption(clusterDirOption())
  .option('--port <port>', 'frontend gRPC port (first up; default 7233)', int('port', 1, 65535))
  .option('--pg-port <port>', 'PostgreSQL port (first up; default a free one)', int('pg port', 1, 65535))
  .option('--shards <n>', 'history shards, fixed at the first up (default 16)', int('shards', 1, 16384))
  .option('--tls', 'mutual TLS on the frontend, with a CA and certificates made under --dir')
  .option('--ui', 'also build and run the Temporal Web UI server')
  .option('--namespace <name>', 'namespace to create (first up; default "default")')
  .action(async (opts: Omit<ClusterUpOptions, 'log' | 'readyTimeoutMs'>) => {
    const started = Date.now();
    const up = await clusterUp({
      ...opts,
      ...(opts.namespace ? { namespace: assertCliId('namespace', opts.namespace) } : {}),
      log: (line) => !json() && process.stderr.write(`${line}\n`),
    });
    print({ ...up, elapsedMs: Date.now() - started }, () =>
      [
        `${up.restarted.length ? `restarted ${up.restarted.join(', ')}; Temporal cluster up` : up.started ? 'Temporal cluster up' : 'Temporal cluster already up'} at ${up.address} (namespace ${up.namespace}, ${up.shards} shards${up.tls ? ', mutual TLS' : ''})${up.uiUrl ? ` · Web UI ${up.uiUrl}` : ''} · ${((Date.now() - started) / 1000).toFixed(1)} s`,
        `state in ${up.dir}; connect with:`,
        ...Object.entries(up.env).map(([k, v]) => `  export ${k}=${v}`),
      ].join('\n'),
    );
  });

/** `ados cluster down|status`: one action on the cluster in --dir. */
function clusterCommand(name: string, description: string, action: (dir: string) => Promise<void>): void {
  cluster
    .command(name)
    .description(description)
    .addOption(clusterDirOption())
    .action((opts: { dir: string }) => action(opts.dir));
}

clusterCommand(
  'down',
  'stop what `up` started (server, Web UI, PostgreSQL); the data stays for the next up',
  async (dir) => {
    const down = await clusterDown(dir);
    print(down, () =>
      down.stopped.length
        ? `stopped ${down.stopped.join(', ')} (data kept in ${down.dir})`
        : `nothing was running in ${down.dir}`,
    );
  },
);

clusterCommand('status', 'whether the cluster in --dir is running and serving, and how to connect', async (dir) => {
  const status = await clusterStatus(dir);
  print(status, () =>
    !status.exists
      ? `no cluster in ${status.dir} (ados cluster up creates one)`
      : `${status.serving ? 'serving' : 'not serving'} at ${status.info!.address} · server ${status.server ? 'up' : 'down'} · PostgreSQL ${status.postgres ? 'up' : 'down'}${status.info!.uiUrl ? ` · Web UI ${status.ui ? 'up' : 'down'}` : ''} · ${status.dir}`,
  );
  if (!status.serving) process.exitCode = EXIT.UNAVAILABLE;
});

// ── worker ──
const WORKER_ROLES = ['all', 'control', 'nodes'] as const;
type WorkerRole = (typeof WORKER_ROLES)[number];

program
  .command('worker')
  .description(
    'run ADOS workers: the control role hosts the workflows (ados-control), the nodes role runs DAG nodes (ados-nodes-{n}); any number of processes per role share the load',
  )
  .addOption(
    new Option('--role <role>', 'what this process serves: control, nodes, or all')
      .choices(WORKER_ROLES)
      .default('all'),
  )
  .option('--partitions <list>', 'node partitions to serve, e.g. 0,1 (default: all)', (raw) =>
    list(raw).map(int('partition', 0, 1023)),
  )
  .option('--tenants <list>', 'tenants whose dedicated queues (ados-tenant-{id}) to serve', list)
  .option('--no-control', 'do not host the workflows (same as --role nodes)')
  .option('--concurrency <n>', 'node activities at once per queue', int('concurrency', 1, 10_000), 20)
  .option(
    '--metrics-port <port>',
    'serve Prometheus metrics (ADOS and Temporal runtime) on this port (default ADOS_METRICS_PORT, 0 = off)',
    int('metrics port', 0, 65535),
  )
  .action(
    async (opts: {
      role: WorkerRole;
      partitions?: number[];
      tenants?: string[];
      control: boolean;
      concurrency: number;
      metricsPort?: number;
    }) => {
      const role: WorkerRole = opts.control ? opts.role : 'nodes';
      if (role === 'control' && (opts.partitions || opts.tenants))
        throw new UserError('--partitions and --tenants choose node queues; the control role serves none of them');
      const control = role !== 'nodes';
      const config = loadConfig(environment(), { ADOS_METRICS_PORT: opts.metricsPort });
      const target = temporalTarget();
      const temporalMetrics = config.ADOS_METRICS_PORT ? `127.0.0.1:${await freePort()}` : undefined;
      installTemporalLogging(
        config.ADOS_LOG_LEVEL === 'debug' || config.ADOS_LOG_LEVEL === 'warn' || config.ADOS_LOG_LEVEL === 'error'
          ? config.ADOS_LOG_LEVEL
          : 'info',
        temporalMetrics,
      );
      const connection = await connectWorker(target);
      const metrics = config.ADOS_METRICS_PORT ? createMetrics() : undefined;
      const metricsServer = metrics
        ? await serveWorkerMetrics(metrics, config.ADOS_METRICS_PORT, `http://${temporalMetrics}/metrics`)
        : undefined;
      const queues = role === 'control' ? [] : nodeQueuesFor(opts);
      const trace = new ExecutionTrace();
      const workers = await createAdosWorkers({
        connection,
        control,
        partitions: role === 'control' ? [] : opts.partitions,
        tenants: opts.tenants,
        nodeConcurrency: opts.concurrency,
        trace,
        ...(metrics ? { metrics } : {}),
      });
      if (control) {
        const client = await temporalClient(target);
        await ensureExportSchedule(client);
        await client.connection.close();
      }
      const served = [...(control ? [CONTROL_TASK_QUEUE] : []), ...queues];
      logger.info(
        {
          role,
          address: target.address,
          namespace: target.namespace,
          queues: served,
          concurrency: opts.concurrency,
          workerId: trace.workerId,
        },
        'workers running; SIGINT or SIGTERM shuts them down gracefully',
      );
      print(
        {
          role,
          address: target.address,
          namespace: target.namespace,
          connection: target.summary,
          control,
          queues: served,
          workerId: trace.workerId,
          ...(metricsServer ? { metricsUrl: `http://localhost:${config.ADOS_METRICS_PORT}/metrics` } : {}),
        },
        () =>
          `ados worker · role ${role} · queues ${served.join(', ')} · Temporal ${target.summary}${metricsServer ? ` · metrics on :${config.ADOS_METRICS_PORT}/metrics` : ''} · Ctrl-C to stop`,
      );
      await runAdosWorkers(workers, trace);
      metricsServer?.close();
      await connection.close();
      logger.info('workers stopped');
    },
  );

// ── tenant ──
const tenant = program.command('tenant').description('create, configure and inspect tenants');

function renderTenant(s: TenantStatus): string {
  const spend =
    Object.entries(s.spendByCategory)
      .map(([k, v]) => `${k} $${v!.toFixed(6)}`)
      .join(', ') || 'none';
  return [
    `tenant ${s.tenantId}: ${s.budgetStatus} · spent $${s.spentUsd.toFixed(6)} of $${s.budgetUsd} (${(s.utilization * 100).toFixed(2)}%) · period ${s.config.period}`,
    `  spend by category: ${spend}`,
    `  runs in flight: ${s.runsInFlight.length}/${s.config.maxConcurrentRuns}${s.runsInFlight.length ? ` (${s.runsInFlight.map((r) => r.runId).join(', ')})` : ''} · waiting: ${s.runsWaiting.length}${s.runsWaiting.length ? ` (${s.runsWaiting.map((r) => `${r.runId}@p${r.priority}`).join(', ')})` : ''}`,
    `  reserved for runs in flight: $${s.reservedUsd.toFixed(6)} · period ${s.periodStart}${s.periodEnd ? ` → ${s.periodEnd}` : ' (no end)'} · archived periods: ${s.archivedPeriods.length}`,
    ...s.archivedPeriods.slice(-3).map((p) => `    ${p.start} → ${p.end}: $${p.spentUsd.toFixed(6)}`),
    `  dedicated queue: ${s.config.dedicatedQueue ? 'yes' : 'no'}`,
    ...renderAlerts(s),
    ...Object.entries(s.config.negotiatedRates ?? {}).map(
      ([model, r]) =>
        `  negotiated rate ${model}: $${r.inputPerMtok} in / $${r.outputPerMtok} out${r.cachedInputPerMtok !== undefined ? ` / $${r.cachedInputPerMtok} cached` : ''} per million tokens`,
    ),
    ...renderLearning(s.learning),
    ...(s.privacy
      ? [
          `  privacy budget (cross-tenant priors, basic composition): ε ${s.privacy.epsilonSpent} spent of ${s.privacy.epsilonTotal} over ${s.privacy.releases} release${s.privacy.releases === 1 ? '' : 's'}, ${s.privacy.epsilonLeft} left · renews ${s.privacy.renewsAt}${s.privacy.atCap ? ' · at its cap: its data is left out of releases until then' : ''}`,
        ]
      : []),
  ].join('\n');
}

function renderAlerts(s: TenantStatus): string[] {
  const config = s.config.alerts;
  if (!config && (s.alerts ?? []).length === 0) return [];
  const lines = config
    ? [
        `  alerts → ${config.webhookUrl} · thresholds ${config.thresholds.join(', ')}${config.projectedExhaustion ? ' · projected exhaustion' : ''} · secret sealed (key ${config.secretSealed.split(':')[2]})`,
      ]
    : ['  alerts: off'];
  for (const a of (s.alerts ?? []).slice(-10))
    lines.push(
      `    ${a.status.padEnd(7)} ${a.body.type}${a.body.threshold !== undefined ? ` ${a.body.threshold}` : ''} at ${a.body.at}${a.attempts ? ` · ${a.attempts} attempt${a.attempts === 1 ? '' : 's'}` : ''}${a.lastError ? ` · last error: ${a.lastError}` : ''}`,
    );
  return lines;
}

function renderLearning(l: TenantStatus['learning']): string[] {
  const intensity =
    l.intensity === l.configuredIntensity
      ? l.intensity
      : `${l.intensity} (configured ${l.configuredIntensity}, stepped down)`;
  return [
    `  learning: ${intensity} · spent $${l.learningSpentUsd.toFixed(6)} of its $${l.learningBudgetUsd.toFixed(6)} (${(l.budgetShare * 100).toFixed(0)}% share) · explores ${(l.explorationRate * 100).toFixed(0)}% of runs · meta-learning ${l.metaLearningOptIn ? `opted in (priors v${l.priorsVersion})` : 'opted out'}`,
    ...l.preferences.map(
      (p) =>
        `    prefers ${p.toModel} over ${p.fromModel} for ${p.kind}: quality ${p.evidence.qualityShadow} vs ${p.evidence.qualityFull} over ${p.evidence.samples} shadows`,
    ),
    ...l.costModel
      .slice(0, 8)
      .map(
        (e) =>
          `    cost model ${e.key}: ${e.basis === 'ratio' ? `×${e.mean.toFixed(3)} of catalog` : `${formatUsd(e.mean)}`} ± ${e.basis === 'ratio' ? e.stdDev.toFixed(3) : `${formatUsd(e.stdDev)}`} over ${e.samples} samples${e.prior !== undefined ? ` (prior ${e.prior.toFixed(3)})` : ''}`,
      ),
  ];
}

tenant
  .command('set <tenantId>')
  .description('create a tenant, or change the given settings of an existing one')
  .option('--budget-usd <n>', 'budget per period in USD', positiveNumber('budget'))
  .addOption(new Option('--period <period>', 'budget period').choices(['none', 'daily', 'monthly']))
  .option(
    '--period-seconds <n>',
    'a period of this many seconds instead (tests, short demos)',
    int('period seconds', 1, 31_536_000),
  )
  .option('--max-concurrent-runs <n>', 'runs in flight at once', int('max concurrent runs', 1, 10_000))
  .option(
    '--backpressure <ratio>',
    'share of max runs above which only priority 1-2 start at once',
    positiveNumber('backpressure'),
  )
  .addOption(
    new Option('--intensity <level>', 'learning intensity').choices(['CONSERVATIVE', 'BALANCED', 'AGGRESSIVE']),
  )
  .option('--meta-opt-in', 'contribute noised cost statistics to cross-tenant priors')
  .option('--meta-opt-out', 'stop contributing to cross-tenant priors')
  .option('--dedicated-queue', "run this tenant's nodes on ados-tenant-{id}")
  .option(
    '--rate <model=in,out[,cached]>',
    'a negotiated rate in USD per million tokens (repeat per model; replaces all the tenant’s rates)',
    negotiatedRate,
    {},
  )
  .option('--no-rates', 'drop every negotiated rate (list prices apply)')
  .addOption(
    new Option('--lease-at <basis>', "what a run's lease reserves: its estimate, or its quote's p95").choices([
      'estimate',
      'p95',
    ]),
  )
  .option('--alert-url <url>', 'send signed budget alerts to this http(s) webhook')
  .option('--alert-secret <secret>', 'the Standard Webhooks signing secret (whsec_…); stored sealed')
  .option('--alert-secret-env <name>', 'read the signing secret from this environment variable instead')
  .option('--alert-thresholds <list>', 'budget shares that raise an alert, e.g. 0.5,0.8,1', (raw) =>
    list(raw).map((v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0)
        throw new InvalidArgumentError(`--alert-thresholds: ${v} is not a positive number`);
      return n;
    }),
  )
  .option('--no-projected-exhaustion', 'no alert when the burn rate would exhaust the budget early')
  .option('--no-alerts', 'turn budget alerts off')
  .action(async (tenantId: string, opts: Record<string, unknown>) => {
    if (opts.metaOptIn && opts.metaOptOut) throw new UserError('give --meta-opt-in or --meta-opt-out, not both');
    const patch: TenantSettings = {};
    if (opts.budgetUsd !== undefined) patch.budgetUsd = opts.budgetUsd as number;
    if (opts.period !== undefined) patch.period = opts.period as TenantConfigPatch['period'];
    if (opts.periodSeconds !== undefined) patch.periodSeconds = opts.periodSeconds as number;
    if (opts.maxConcurrentRuns !== undefined) patch.maxConcurrentRuns = opts.maxConcurrentRuns as number;
    if (opts.backpressure !== undefined) patch.backpressureThreshold = opts.backpressure as number;
    if (opts.dedicatedQueue) patch.dedicatedQueue = true;
    const rates = opts.rate as NonNullable<TenantConfigPatch['negotiatedRates']>;
    if (opts.rates === false && Object.keys(rates).length > 0)
      throw new UserError('give --rate or --no-rates, not both');
    if (opts.rates === false) patch.negotiatedRates = {};
    else if (Object.keys(rates).length > 0) patch.negotiatedRates = rates;
    if (opts.leaseAt !== undefined) patch.leaseAt = opts.leaseAt as 'estimate' | 'p95';
    patch.alerts = alertSettings(opts);
    if (patch.alerts === undefined) delete patch.alerts;
    const client = await connectClient();
    if (opts.intensity !== undefined || opts.metaOptIn || opts.metaOptOut) {
      // Learning settings merge field by field, so only what was given changes.
      patch.learning = {
        ...(opts.intensity !== undefined ? { intensity: opts.intensity as 'BALANCED' } : {}),
        ...(opts.metaOptIn || opts.metaOptOut ? { metaLearningOptIn: Boolean(opts.metaOptIn) } : {}),
      };
    }
    const status = await configureTenant(client, tenantId, patch);
    print(status, () => renderTenant(status));
  });

tenant
  .command('token <tenantId>')
  .description('issue an API token for the tenant (shown once, stored only as its hash), or revoke one')
  .option('--revoke <tokenId>', 'revoke this token instead')
  .action(async (tenantId: string, opts: { revoke?: string }) => {
    const client = await connectClient();
    if (opts.revoke) {
      const revoked = await revokeTenantToken(client, assertCliId('tenant id', tenantId), opts.revoke);
      if (!revoked) throw new UserError(`tenant ${tenantId} has no active token ${opts.revoke}`, 'NOT_FOUND');
      print({ tenantId, tokenId: opts.revoke, revoked }, () => `token ${opts.revoke} of ${tenantId} revoked`);
      return;
    }
    const issued = await issueTenantToken(client, assertCliId('tenant id', tenantId));
    print(
      { tenantId, ...issued },
      () => `token ${issued.tokenId} for ${tenantId} (shown once; keep it secret):\n${issued.token}`,
    );
  });

tenant
  .command('show <tenantId>')
  .description("a tenant's budget status, spend by category and runs")
  .action(async (tenantId: string) => {
    const status = await tenantStatus(await connectClient(), tenantId);
    print(status, () => renderTenant(status));
  });

// ── run ──
const run = program.command('run').description('start, inspect and cancel delivery runs');

function renderRun(r: DeliveryRunResult): string {
  const lines = [
    `run ${r.runId} of ${r.tenantId}: ${r.status} · $${r.costUsd.toFixed(6)}${r.reason ? ` · ${r.reason}` : ''}`,
  ];
  for (const [id, n] of Object.entries(r.nodes)) {
    lines.push(
      `  ${id.padEnd(24)} ${n.status.padEnd(10)} attempts ${n.attempts} · $${n.costUsd.toFixed(6)}${n.model ? ` · ${n.model}` : ''}${n.error ? ` · ${n.error}` : ''}`,
    );
  }
  for (const c of r.learning?.choices ?? [])
    lines.push(
      `  learned: ${c.nodeId} runs ${c.toModel} instead of ${c.fromModel} (quality ${c.evidence.qualityShadow} vs ${c.evidence.qualityFull} over ${c.evidence.samples} shadows)`,
    );
  if (r.learning?.shadow)
    lines.push(
      `  explored: ${r.learning.shadow.nodeId} in shadow with ${r.learning.shadow.toModel} (${r.learning.shadow.workflowId})`,
    );
  return lines.join('\n');
}

run
  .command('start')
  .description('start a delivery run from a JSON or YAML file (a whole run input, or just its dag)')
  .requiredOption('--tenant <id>', 'tenant id')
  .requiredOption('--dag <file>', 'run or DAG file (.json, .yaml)')
  .option('--run-id <id>', 'run id (default: generated)')
  .option('--priority <1-5>', '1 most urgent … 5', int('priority', 1, 5))
  .option('--max-parallelism <n>', 'nodes in flight at once', int('max parallelism', 1, 64))
  .option('--wait', 'wait for the result, showing progress')
  .option(
    '--tag <key=value>',
    'a showback tag (repeatable, at most 10)',
    (raw: string, tags: Record<string, string> = {}) => {
      const at = raw.indexOf('=');
      if (at < 1) throw new InvalidArgumentError('a tag is key=value');
      return { ...tags, [raw.slice(0, at)]: raw.slice(at + 1) };
    },
  )
  .action(
    async (opts: {
      tenant: string;
      dag: string;
      runId?: string;
      priority?: number;
      maxParallelism?: number;
      wait?: boolean;
      tag?: Record<string, string>;
    }) => {
      const input = {
        ...readRunFile(opts.dag),
        tenantId: opts.tenant,
        ...(opts.runId ? { runId: opts.runId } : {}),
        ...(opts.priority ? { priority: opts.priority } : {}),
        ...(opts.maxParallelism ? { maxParallelism: opts.maxParallelism } : {}),
        ...(opts.tag ? { tags: opts.tag } : {}),
      };
      const client = await connectClient();
      const handle = await startRun(client, input);
      const { runId, admission } = handle;
      if (!opts.wait) {
        print({ tenantId: opts.tenant, runId, workflowId: handle.workflowId, admission }, () =>
          admission.status === 'REJECTED'
            ? `run ${runId} rejected: ${admission.reason} (workflow ${handle.workflowId})`
            : `started run ${runId} (workflow ${handle.workflowId})${admission.status === 'PENDING' ? ', waiting for admission' : ''}`,
        );
        // The same answer as the API's 429: the run exists, but it will not run.
        if (admission.status === 'REJECTED') process.exitCode = EXIT.RUN_NOT_SUCCESSFUL;
        return;
      }
      const bars = createBars(!json() && process.stderr.isTTY);
      const nodeCount = (input as { dag?: { nodes?: unknown[] } }).dag?.nodes?.length ?? 0;
      const bar = bars?.create(nodeCount, 0, { label: runId, unit: 'nodes', cost: '0.000000', status: 'ADMITTING' });
      const poller = bar
        ? poll(async () => {
            const p = await runProgress(client, opts.tenant, runId);
            bar.update(nodesDone(p), {
              cost: p.costUsd.toFixed(6),
              status: `${p.status}${p.budgetStatus ? ` · budget ${p.budgetStatus}` : ''}`,
            });
          })
        : undefined;
      try {
        const result = await runOutcome(handle);
        bar?.update(nodesDone(result), {
          cost: result.costUsd.toFixed(6),
          status: `${result.status}${result.budgetStatus ? ` · budget ${result.budgetStatus}` : ''}`,
        });
        bars?.stop();
        print(result, () => renderRun(result));
        if (!['COMPLETED', 'DEGRADED'].includes(result.status)) process.exitCode = EXIT.RUN_NOT_SUCCESSFUL;
      } finally {
        await poller?.stop();
        bars?.stop();
      }
    },
  );

function renderQuote(q: RunQuote): string {
  const money = (n: number) => `$${n.toFixed(6)}`;
  return [
    `quote for ${q.tenantId}: p50 ${money(q.p50Usd)} · p95 ${money(q.p95Usd)} (p5 ${money(q.p5Usd)}) · basis ${q.basis} · confidence ${q.confidence}`,
    ...q.byNode.map(
      (n) =>
        `  ${n.nodeId.padEnd(24)} ${n.kind.padEnd(18)} p50 ${money(n.p50Usd)} · p95 ${money(n.p95Usd)} · ${n.basis}${n.samples ? ` (${n.samples} samples)` : ''}${n.model ? ` · ${n.model}` : ''}`,
    ),
    `  prices: ${q.prices.source} ${q.prices.version}`,
  ].join('\n');
}

run
  .command('quote')
  .description('what a run would cost (p50, p95, per node), without running anything')
  .requiredOption('--tenant <id>', 'tenant id')
  .requiredOption('--dag <file>', 'run or DAG file (.json, .yaml)')
  .action(async (opts: { tenant: string; dag: string }) => {
    const result = await quote(await connectClient(), { ...readRunFile(opts.dag), tenantId: opts.tenant });
    print(result, () => renderQuote(result));
  });

run
  .command('show <tenantId> <runId>')
  .description("a run's progress, or its result once finished")
  .action(async (tenantId: string, runId: string) => {
    const result = await runProgress(await connectClient(), tenantId, runId);
    print(result, () => renderRun(result));
  });

run
  .command('cancel <tenantId> <runId>')
  .description('cancel a run: in-flight nodes are cancelled and its slot released')
  .action(async (tenantId: string, runId: string) => {
    const handle = runHandle(await connectClient(), tenantId, runId);
    try {
      await handle.cancel();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new UserError(`unknown run ${runId} of tenant ${tenantId}`, 'NOT_FOUND');
      throw err;
    }
    print({ tenantId, runId, cancelRequested: true }, () => `cancellation requested for run ${runId}`);
  });

// ── export ──
program
  .command('export')
  .description('write the artifacts of finished runs (and their tenants) under ADOS_ARTIFACTS_DIR; idempotent')
  .option('--tenant <id>', "only this tenant's runs")
  .option('--run <id>', 'only this run (needs --tenant)')
  .option('--force', 'export again runs already exported')
  .action(async (opts: { tenant?: string; run?: string; force?: boolean }) => {
    if (opts.run && !opts.tenant) throw new UserError('--run needs --tenant');
    if (opts.tenant) assertCliId('tenant id', opts.tenant);
    if (opts.run) assertCliId('run id', opts.run);
    const client = await connectClient();
    const force = Boolean(opts.force);
    const outcome = await exportFinished(
      client,
      opts.run ? { tenantId: opts.tenant!, runId: opts.run, force } : { tenantId: opts.tenant, force },
    );
    const exported = outcome.runs.filter((r) => r.exported);
    print({ ...outcome, artifactsDir: artifactsRoot() }, () =>
      [
        `exported ${exported.length} run(s) to ${artifactsRoot()}${outcome.runs.length > exported.length ? `; skipped ${outcome.runs.length - exported.length} (${[...new Set(outcome.runs.filter((r) => !r.exported).map((r) => r.reason))].join(', ')})` : ''}`,
        ...Object.entries(outcome.tenants).map(([t, files]) => `  tenant ${t}: ${files.length} file(s)`),
        ...Object.entries(outcome.tenantErrors).map(([t, error]) => `  tenant ${t}: not exported: ${error}`),
      ].join('\n'),
    );
    if (Object.keys(outcome.tenantErrors).length) process.exitCode = EXIT.ERROR;
  });

// ── report ──
/** An ISO time from the command line. */
function isoTime(name: string) {
  return (raw: string) => {
    const t = Date.parse(raw);
    if (Number.isNaN(t))
      throw new InvalidArgumentError(`${name} must be a date or time, e.g. 2026-11-01 or 2026-11-01T00:00:00Z`);
    return new Date(t).toISOString();
  };
}

program
  .command('report')
  .description(
    "showback: a tenant's spend by run, node kind, model, category and tag (exports its finished runs first)",
  )
  .requiredOption('--tenant <id>', 'tenant id')
  .option('--from <time>', 'from (default: the start of the current budget period)', isoTime('--from'))
  .option('--to <time>', 'until, exclusive (default: now)', isoTime('--to'))
  .addOption(new Option('--format <format>', 'output').choices(['csv', 'json']).default('csv'))
  .action(async (opts: { tenant: string; from?: string; to?: string; format: 'csv' | 'json' }) => {
    const tenantId = assertCliId('tenant id', opts.tenant);
    const client = await connectClient();
    const report = await tenantReport(client, tenantId, opts);
    await client.connection.close();
    process.stdout.write(
      opts.format === 'json' || json() ? `${JSON.stringify(report, null, 2)}\n` : showbackCsv(report),
    );
  });

// ── replay ──
program
  .command('replay <paths...>')
  .description('replay recorded histories (files or folders) against the current workflow code')
  .option(
    '--keyring <ring>',
    'the key ring encrypted histories were sealed with: JSON or a file (default ADOS_KEYRING)',
  )
  .action(async (paths: string[], opts: { keyring?: string }) => {
    installTemporalLogging('warn');
    if (opts.keyring) process.env.ADOS_KEYRING = opts.keyring;
    const outcomes = await replayHistories(historyFiles(paths));
    print(outcomes, () =>
      outcomes
        .map((o) => (o.ok ? `ok    ${o.workflowId}  ${o.file}` : `FAIL  ${o.workflowId}  ${o.file}\n      ${o.error}`))
        .join('\n'),
    );
    if (outcomes.some((o) => !o.ok)) process.exitCode = EXIT.ERROR;
  });

// ── api ──
program
  .command('api')
  .description('serve the HTTP API (OpenAPI at /docs, Prometheus at /metrics, liveness at /healthz)')
  .option('--port <port>', 'port (default ADOS_API_PORT or 8080)', int('port', 0, 65535))
  .option('--host <host>', 'interface to listen on (default ADOS_API_HOST or 127.0.0.1)')
  .action(async (opts: { port?: number; host?: string }) => {
    const config = loadConfig(environment(), { ADOS_API_PORT: opts.port, ADOS_API_HOST: opts.host });
    if (!config.ADOS_ADMIN_TOKEN)
      logger.warn('ADOS_ADMIN_TOKEN is not set: tenants cannot be created or given tokens through the API');
    const client = await connectClient();
    const app = await buildApi({ client, config, logger, metrics: createMetrics() });
    const url = await app.listen({ port: config.ADOS_API_PORT, host: config.ADOS_API_HOST });
    print({ url, docs: `${url}/docs` }, () => `ADOS API at ${url} · OpenAPI ${url}/docs · Ctrl-C to stop`);
    await untilStopped();
    await app.close();
    await client.connection.close();
  });

program
  .command('codec-server')
  .description(
    'decode and encode payloads for the Web UI and the Temporal CLI (--codec-endpoint) with the key ring; needs the admin token or a tenant token',
  )
  .option('--port <port>', 'port', int('port', 0, 65535), CODEC_SERVER_PORT)
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--cors-origin <url>', "the Web UI's origin (default ADOS_WEB_UI_URL)")
  .action(async (opts: { port: number; host: string; corsOrigin?: string }) => {
    const config = loadConfig();
    const client = await connectClient();
    const app = await buildCodecServer({
      client,
      adminToken: config.ADOS_ADMIN_TOKEN,
      corsOrigin: opts.corsOrigin ?? config.ADOS_WEB_UI_URL,
      logger,
      tokenCacheMs: config.ADOS_API_TOKEN_CACHE_SECONDS * 1000,
    });
    const url = await app.listen({ port: opts.port, host: opts.host });
    print(
      { url },
      () =>
        `ADOS codec server at ${url} · temporal workflow show --codec-endpoint ${url} --codec-auth "Bearer <token>" · Ctrl-C to stop`,
    );
    await untilStopped();
    await app.close();
    await client.connection.close();
  });

// ── bench ──
program
  .command('bench')
  .description(
    'measure ADOS against bare Temporal on a fresh dev server (or any server, or a cluster it brings up); writes bench/results/latest.{json,md} and chart.svg',
  )
  .option('--quick', 'small scenarios, under 3 minutes')
  // Read by bench/target.ts from the command line.
  .option('--address <host:port>', 'measure on this running server (TEMPORAL_TLS_* and TEMPORAL_API_KEY apply)')
  .option('--cluster', 'bring up a self-hosted cluster (ados cluster up) for the run, and down after')
  .option(
    '--node-processes <n>',
    'engine bench: a control process and n node-worker processes',
    int('node processes', 0, 16),
  )
  .action(async (opts: { quick?: boolean }) => {
    // Loaded on demand: the suite pulls in every scenario.
    const { runBenchSuite } = await import('../bench/suite');
    const { stopBenchCluster } = await import('../bench/target');
    await runBenchSuite({ quick: Boolean(opts.quick) }).finally(stopBenchCluster);
    // Timers of runs the bench gave up on must not keep the command alive.
    process.exit(0);
  });

// ── demo ──
program
  .command('demo')
  .description('the main job: three tenants, twenty-four RAG runs with mixed priorities, live progress')
  .option('--once', 'exit at the end (otherwise the server and Web UI stay up until Ctrl-C)')
  .option('--runs <n>', 'number of runs', int('runs', 1, 10_000), 24)
  .action(async (opts: { once?: boolean; runs: number }) => {
    await runDemo({ once: Boolean(opts.once), runs: opts.runs, json: json() });
  });

function exitCodeFor(err: unknown): number {
  if (err instanceof UserError)
    return {
      INVALID_INPUT: EXIT.INVALID,
      NOT_FOUND: EXIT.NOT_FOUND,
      CONFLICT: EXIT.CONFLICT,
      UNAVAILABLE: EXIT.UNAVAILABLE,
    }[err.code];
  if (err instanceof ConfigError) return EXIT.INVALID;
  return EXIT.ERROR;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (json())
      process.stdout.write(
        `${JSON.stringify({ error: err instanceof UserError ? err.code : 'ERROR', message, ...(err instanceof UserError && err.issues.length ? { issues: err.issues } : {}) })}\n`,
      );
    else process.stderr.write(`ados: ${message}\n`);
    if (program.opts().verbose && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
