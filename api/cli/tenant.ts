/** `ados tenant configure|status|tokens`. */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { TenantConfigPatch, TenantSettings } from '../../workflows/domain/tenant/tenant-config';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import type { Client } from '@temporalio/client';
import { UserError, configureTenant, connectClient, tenantStatus } from '../client';
import { placedTenantClient, placementOf, tenantClient } from '../client/directory';
import { describePlacement } from '../../workflows/domain/tenant/placement';
import { environment, loadConfig } from '../../infra/config';
import { issueTenantToken, revokeTenantToken } from '../http/tokens';
import { formatUsd } from '../../workflows/domain/pricing/catalog';
import { print } from './output';
import { moveInCommand } from './move-in';
import { assertCliId, int, list, positiveNumber } from './args';

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

function renderTenant(s: TenantStatus): string {
  const spend =
    Object.entries(s.spendByCategory)
      .map(([k, v]) => `${k} $${v!.toFixed(6)}`)
      .join(', ') || 'none';
  return [
    `tenant ${s.tenantId}: ${s.budgetStatus} · spent $${s.spentUsd.toFixed(6)} of $${s.budgetUsd} (${(s.utilization * 100).toFixed(2)}%) · period ${s.config.period}`,
    ...(s.movedTo ? [`  moved to ${s.movedTo}: admits no new run here`] : []),
    `  spend by category: ${spend}`,
    `  spend by model: ${
      Object.entries(s.spendByModel)
        .map(([k, v]) => `${k} $${v.toFixed(6)}`)
        .join(', ') || 'none'
    }`,
    ...(Object.keys(s.spendByTag).length > 0
      ? [
          `  spend by tag: ${Object.entries(s.spendByTag)
            .map(([k, v]) => `${k} $${v.toFixed(6)}`)
            .join(', ')}`,
        ]
      : []),
    `  runs in flight: ${s.runsInFlight.length}/${s.config.maxConcurrentRuns}${s.runsInFlight.length ? ` (${s.runsInFlight.map((r) => r.runId).join(', ')})` : ''} · waiting: ${s.runsWaiting.length}${s.runsWaiting.length ? ` (${s.runsWaiting.map((r) => `${r.runId}@p${r.priority}`).join(', ')})` : ''}`,
    ...renderBlocks(s),
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

/** Slots and money leased to starters (the API) that admit runs themselves: they count against the limit and as reserved. */
function renderBlocks(s: TenantStatus): string[] {
  const blocks = s.admissionBlocks ?? [];
  if (blocks.length === 0) return [];
  return [
    `  admission blocks: ${blocks.length} holding ${blocks.reduce((n, b) => n + b.slots, 0)} slots`,
    ...blocks.map(
      (b) => `    ${b.blockId} (${b.starter}): ${b.slots} slots, $${b.reservedUsd.toFixed(6)} · expires ${b.expiresAt}`,
    ),
  ];
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
    `  learning: ${intensity} · spent $${l.learningSpentUsd.toFixed(6)} of its $${l.learningBudgetUsd.toFixed(6)} (${(l.budgetShare * 100).toFixed(0)}% share) · explores ${(l.explorationRate * 100).toFixed(0)}% of runs · meta-learning ${l.metaLearningOptIn ? `opted in${l.metaLearningScope === 'all-regions' ? ', shared with all regions' : ''} (priors v${l.priorsVersion})` : 'opted out'}`,
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
    ...l.tokenModel
      .slice(0, 12)
      .map(
        (t) =>
          `    tokens ${TOKEN_FAMILIES[t.family]} ${t.key}: p5 ${t.p5} · p50 ${t.p50} · p95 ${t.p95} over ${t.samples}`,
      ),
  ];
}

/** What each family of the token model holds, as `ados tenant show` names it. */
const TOKEN_FAMILIES = {
  output: 'output share of max_tokens',
  input: 'input ratio to o200k',
  prompt: 'prompt tokens per passage',
  cost: 'search cost in micro-dollars',
  prior: 'output share of max_tokens, cross-tenant prior,',
} as const;

/** `ados tenant set|token|show`: create, configure and inspect tenants. */
export function tenantCommands(program: Command): void {
  const tenant = program.command('tenant').description('create, configure and inspect tenants');

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
    .addOption(
      new Option(
        '--meta-scope <scope>',
        'in a deployment of regions: where the noised releases your statistics enter may go (placement: only its regions; all-regions: every region)',
      ).choices(['placement', 'all-regions']),
    )
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
    .option(
      '--region <region>',
      "in a deployment of regions: the tenant's home region, where its runs are active (default: this process's region, ADOS_REGION)",
    )
    .option(
      '--replicas <list>',
      'in a deployment of regions: every region that may hold its data, home included (default: the home alone; the tenant is pinned to it)',
      list,
    )
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
      const client = await placedTenantClient(await connectClient(), assertCliId('tenant id', tenantId), {
        home: opts.region as string | undefined,
        replicas: opts.replicas as string[] | undefined,
      });
      if (opts.intensity !== undefined || opts.metaOptIn || opts.metaOptOut || opts.metaScope !== undefined) {
        // Learning settings merge field by field, so only what was given changes.
        patch.learning = {
          ...(opts.intensity !== undefined ? { intensity: opts.intensity as 'BALANCED' } : {}),
          ...(opts.metaOptIn || opts.metaOptOut ? { metaLearningOptIn: Boolean(opts.metaOptIn) } : {}),
          ...(opts.metaScope !== undefined ? { metaLearningScope: opts.metaScope as 'placement' } : {}),
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
      const client = await tenantClient(await connectClient(), assertCliId('tenant id', tenantId));
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

  moveInCommand(tenant);

  tenant
    .command('show <tenantId>')
    .description("a tenant's budget status, spend by category and runs")
    .action(async (tenantId: string) => {
      const client = await tenantClient(await connectClient(), assertCliId('tenant id', tenantId));
      const status = await tenantStatus(client, tenantId);
      const where = await whereTenantLives(client, tenantId);
      const shown = where ? { ...status, placement: where } : status;
      print(shown, () => [renderTenant(status), ...(where ? [renderPlacement(where)] : [])].join('\n'));
    });
}

interface WhereTenantLives {
  home: string;
  regions: string[];
  namespace: string;
  activeRegion: string;
}

/** In a deployment of regions: the tenant's placement, its namespace and the region active for it now. */
async function whereTenantLives(client: Client, tenantId: string): Promise<WhereTenantLives | undefined> {
  if (!loadConfig().ADOS_REGION) return undefined;
  const placement = await placementOf(client, tenantId);
  if (!placement) return undefined;
  const namespace = client.options.namespace;
  const described = await client.workflowService.describeNamespace({ namespace });
  return { ...placement, namespace, activeRegion: described.replicationConfig?.activeClusterName ?? '' };
}

function renderPlacement(where: WhereTenantLives): string {
  return `  lives in ${describePlacement(where)} · namespace ${where.namespace} (temporal --namespace ${where.namespace}) · active now in ${where.activeRegion}`;
}
