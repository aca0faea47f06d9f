/** Two regions of their own for a test file: clients, workers, local reads, SQL counts, a load and its spend check. */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { regionKeyRingPath } from '../infra/cluster/regions/keyrings';
import type { KeyRing } from '../infra/seal';
import { after, before } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import fc from 'fast-check';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../api/client';
import { temporal } from '@temporalio/proto';
import { findPostgresBin, PG_USER } from '../infra/cluster/postgres';
import { FAILOVER_VERSION_INCREMENT, readState, type ClusterState } from '../infra/cluster/layout';
import { tsToMs } from '@temporalio/common/lib/time';
import { clusterEnv } from '../infra/cluster/target';
import { temporaryRegions, type RegionsInfo } from '../infra/cluster/regions';
import { PROJECT_ROOT } from '../infra/project';
import { spawnAdosApi } from './processes';
import { EXECUTION_LOG_VAR, endedExecutions } from './execution-log';
import { LOCAL_ONLY, temporalClient, temporalTarget } from '../infra/temporal-connection';
import { eventually, micros } from './temporal';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../workflows/domain/ids';
import { placeTenant } from '../api/client/directory';
import { placementRegions } from '../infra/cluster/regions/placements';

const runFile = promisify(execFile);

/**
 * Two regions of their own for one test file (eu and us, each a Temporal cluster on its own
 * PostgreSQL, mutual TLS, replicating), with what its tests use: clients, one `ados worker` process
 * per region for all its namespaces (running `test.logged` nodes into the execution log), local reads, SQL
 * counts, the failover tests' load and their spend check.
 */
export function useRegions() {
  const regions = regionsHarness();
  before(() => regions.up());
  after(() => regions.down());
  return regions;
}

/** The same two regions for a bench or a script: `up()` brings them up, `down()` takes all it started down. */
export function regionsHarness() {
  const REGIONS = ['eu', 'us'];
  const LOGGED_WORKER = join(PROJECT_ROOT, 'testkit', 'logged-worker.ts');
  const executionLog = () => join(regions.dir, 'executions.log');
  let regions: { info: RegionsInfo; dir: string; discard(): Promise<void> };
  const states = new Map<string, ClusterState>();
  const clients: Client[] = [];
  const children: ChildProcess[] = [];
  /** The ADOS processes of each region (the unplanned failover kills one region's). */
  const processesIn = new Map<string, ChildProcess[]>();
  let keyRingBefore: string | undefined;

  /** What a process in `region` sets to use `namespace` there. */
  function regionEnv(region: string, namespace: string): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ...clusterEnv(states.get(region)!),
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_CONFIG_FILE: join(regions.dir, 'no-profile.toml'),
    };
  }

  /** `ados --json …` run as a user in `region` would (its cluster, its ADOS_REGION): exit code, JSON or error. */
  async function adosIn(region: string, args: string[]): Promise<{ code: number; out: unknown; stderr: string }> {
    const result = await runFile(process.execPath, [join(PROJECT_ROOT, 'bin', 'ados.js'), '--json', ...args], {
      env: { ...regionEnv(region, 'default'), ADOS_LOG_LEVEL: 'warn' },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      }),
    );
    let out: unknown;
    try {
      out = JSON.parse(result.stdout);
    } catch {
      out = result.stdout;
    }
    return { code: result.code, out, stderr: result.stderr };
  }

  /** `ados api` in `region` (with an admin token), once it answers; stopped with the file. */
  async function apiIn(region: string): Promise<{ url: string; admin: string }> {
    const admin = `admin-token-of-${region}`;
    const api = await spawnAdosApi({ ...regionEnv(region, 'default'), ADOS_ADMIN_TOKEN: admin });
    children.push(api.child);
    processesIn.set(region, [...(processesIn.get(region) ?? []), api.child]);
    return { url: api.url, admin };
  }

  async function clientOf(region: string, namespace: string): Promise<Client> {
    const client = await temporalClient(temporalTarget({}, regionEnv(region, namespace)));
    clients.push(client);
    return client;
  }

  /**
   * `ados worker --namespaces region` in `region`, once it serves: one process for every namespace
   * the region holds (active or standby); it also runs `test.logged` nodes, logging each execution
   * to the execution log (testkit/execution-log.ts).
   */
  async function workerIn(region: string, args: string[] = []): Promise<ChildProcess> {
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', LOGGED_WORKER, '--namespaces', 'region', ...args], {
      env: {
        ...regionEnv(region, 'default'),
        ADOS_LOG_LEVEL: 'warn',
        [EXECUTION_LOG_VAR]: executionLog(),
        ADOS_TEST_REGION: region,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    children.push(child);
    processesIn.set(region, [...(processesIn.get(region) ?? []), child]);
    await eventually(async () => /ados worker · role/.test(output) || undefined, {
      timeoutMs: 90_000,
      what: `a worker in ${region} (${output.slice(-300)})`,
    });
    return child;
  }

  const serving = new Map<string, Promise<ChildProcess>>();
  /** The worker of `region`, started once for the whole file. */
  function workerOnce(region: string): Promise<ChildProcess> {
    if (!serving.has(region)) serving.set(region, workerIn(region, ['--concurrency', '60']));
    return serving.get(region)!;
  }

  /** The workflow as `region`'s own copy has it (never forwarded to the active region), or undefined. */
  async function localCopy(client: Client, workflowId: string) {
    return client.connection
      .withMetadata(LOCAL_ONLY, () =>
        client.workflowService.describeWorkflowExecution({
          namespace: client.options.namespace,
          execution: { workflowId },
        }),
      )
      .catch(() => undefined);
  }

  /** Rows naming these workflow ids in a region's PostgreSQL: its executions, current executions and visibility. */
  function rowsIn(region: string, workflowIds: string[]): number {
    const state = states.get(region)!;
    const list = workflowIds.map((id) => `'${id.replace(/'/g, "''")}'`).join(',');
    const count = (database: string, table: string) =>
      Number(
        execFileSync(
          join(findPostgresBin(), 'psql'),
          [
            '-h',
            '127.0.0.1',
            '-p',
            String(state.ports.postgres),
            '-U',
            PG_USER,
            '-d',
            database,
            '-tAc',
            `SELECT count(*) FROM ${table} WHERE workflow_id IN (${list})`,
          ],
          { encoding: 'utf8' },
        ).trim(),
      );
    return (
      count('temporal', 'executions') +
      count('temporal', 'current_executions') +
      count('temporal_visibility', 'executions_visibility')
    );
  }

  /**
   * The mixed load of the failover tests: 200 runs over four tenants (chains, fan-ins, single nodes)
   * of 15-s logged nodes, long enough for all 200 to be in flight at once, single nodes included,
   * started through the doors given (a third each).
   * With a seed, each run's shape (a chain of 1-4 nodes or a fan-in of 2-4) and its nodes' costs
   * ($0.001-0.005) are drawn from it instead.
   */
  async function startLoad(
    client: Client,
    tenants: string[],
    prefix: string,
    {
      runs = 200,
      nodeMs = 15_000,
      seed,
      doors,
    }: {
      runs?: number;
      nodeMs?: number;
      seed?: number;
      /**
       * Doors besides the TypeScript client, each taking a third of the runs: `plain`, a bare start
       * from a plain Temporal client (as the Temporal CLI starts a run); `http`, `POST
       * /v1/tenants/{id}/runs` on an ADOS API (apiIn). @default the TypeScript client alone
       */
      doors?: { plain?: boolean; http?: { url: string; admin: string } };
    } = {},
  ): Promise<WorkflowHandle[]> {
    await Promise.all(tenants.map((t) => configureTenant(client, t, { budgetUsd: 10, maxConcurrentRuns: 60 })));
    // The API finds a tenant through the directory: the tenants are placed where their namespace says.
    const regionsOf = placementRegions(client.options.namespace);
    if (doors?.http && regionsOf)
      for (const t of tenants) await placeTenant(client, t, { home: regionsOf[0]!, regions: regionsOf });
    const dags = seed === undefined ? fixedShapes(runs, nodeMs) : drawnShapes(runs, nodeMs, seed);
    return Promise.all(
      dags.map(async (nodes, i) => {
        const tenantId = tenants[i % tenants.length]!;
        const runId = `${prefix}-${i}`;
        const workflowId = deliveryRunWorkflowId(tenantId, runId);
        if (doors?.plain && i % 3 === 1)
          return client.workflow.start('deliveryRun', {
            workflowId,
            taskQueue: CONTROL_TASK_QUEUE,
            args: [{ tenantId, runId, dag: { nodes } }],
          });
        if (doors?.http && i % 3 === 2) {
          const answer = await fetch(`${doors.http.url}/v1/tenants/${tenantId}/runs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${doors.http.admin}`, 'content-type': 'application/json' },
            body: JSON.stringify({ runId, dag: { nodes } }),
          });
          if (answer.status !== 202) throw new Error(`POST run ${runId}: ${answer.status} ${await answer.text()}`);
          return client.workflow.getHandle(workflowId);
        }
        return startRun(client, { tenantId, runId, dag: { nodes } });
      }),
    );
  }

  /** Waits until at least `least` runs of the namespace are RUNNING (by visibility), and says how many. */
  async function runningAtLeast(client: Client, least: number): Promise<number> {
    const running = async () =>
      Number(
        (
          await client.workflowService.countWorkflowExecutions({
            namespace: client.options.namespace,
            query: `DeliveryStatus = 'RUNNING'`,
          })
        ).count,
      );
    return eventually(async () => ((await running()) >= least ? running() : undefined), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: `${least} runs RUNNING`,
    });
  }

  /** Each tenant's spend, once it has no run in flight, against what its logged executions cost. */
  async function spendAgainstExecutions(client: Client, tenants: string[]) {
    return Promise.all(
      tenants.map(async (tenantId) => {
        await eventually(
          async () => ((await tenantStatus(client, tenantId)).runsInFlight.length === 0 ? true : undefined),
          { timeoutMs: 120_000, what: `every run of ${tenantId} released` },
        ).catch(async (err: Error) => {
          // Which runs the entity still holds, and whether they have ended.
          const held = (await tenantStatus(client, tenantId)).runsInFlight;
          const states = await Promise.all(
            held.slice(0, 5).map(async (r) => {
              const d = await client.workflow.getHandle(deliveryRunWorkflowId(tenantId, r.runId)).describe();
              return `${r.runId} ${d.status.name}`;
            }),
          );
          throw new Error(`${err.message}: ${held.length} still held (${states.join(', ')})`);
        });
        // An execution its run did not take is charged apart by its worker, which may come after the
        // run's release (its completion retried through the failover first): the spend settles once
        // it equals the executions' cost, or has not moved for 15 s.
        let last = { spent: -1, ran: 0, executions: 0, at: Date.now() };
        for (;;) {
          const executions = endedExecutions(executionLog()).filter((e) => e.tenantId === tenantId);
          const ran = executions.reduce((sum, e) => sum + e.costMicros, 0);
          const spent = micros((await tenantStatus(client, tenantId)).spentUsd);
          if (spent !== last.spent || ran !== last.ran)
            last = { spent, ran, executions: executions.length, at: Date.now() };
          if (spent === ran || Date.now() - last.at >= 15_000) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        return { tenantId, spent: last.spent, ran: last.ran, executions: last.executions };
      }),
    );
  }

  /**
   * Every run's outcome, within `timeoutMs`. Runs still open then fail the test with what their
   * histories say: each stuck run's last events, and the messages between it and its tenant's entity
   * in the entity's history (asked, answered, and whether each answer reached it).
   */
  async function outcomes(client: Client, workflowIds: string[], timeoutMs = 240_000) {
    const settled = new Map<string, Awaited<ReturnType<typeof runOutcome>>>();
    const all = Promise.all(
      workflowIds.map(async (id) => settled.set(id, await runOutcome(client.workflow.getHandle(id)))),
    );
    const late = await Promise.race([
      all.then(() => false),
      new Promise<true>((r) => setTimeout(() => r(true), timeoutMs).unref()),
    ]);
    if (!late) return workflowIds.map((id) => settled.get(id)!);
    const stuck = workflowIds.filter((id) => !settled.has(id));
    const report: string[] = [`${stuck.length} of ${workflowIds.length} runs still open after ${timeoutMs / 1000} s`];
    for (const id of stuck.slice(0, 3)) report.push(...(await stuckRunStory(client, id)));
    throw new Error(report.join('\n'));
  }

  /** One stuck run's story: its last events, and what its entity's history says about it. */
  async function stuckRunStory(client: Client, workflowId: string): Promise<string[]> {
    const line = (e: temporal.api.history.v1.IHistoryEvent) =>
      `  ${e.eventId} v${e.version} ${temporal.api.enums.v1.EventType[e.eventType!]} ${JSON.stringify(
        e.signalExternalWorkflowExecutionInitiatedEventAttributes?.workflowExecution ??
          e.externalWorkflowExecutionSignaledEventAttributes?.workflowExecution ??
          e.signalExternalWorkflowExecutionFailedEventAttributes?.cause ??
          e.workflowExecutionSignaledEventAttributes?.signalName ??
          '',
      )}`;
    const run = await client.workflow.getHandle(workflowId).fetchHistory();
    const out = [
      `run ${workflowId}: ${run.events?.length} events, the last:`,
      ...(run.events ?? []).slice(-8).map(line),
    ];
    const tenantId = (await client.workflow.getHandle(workflowId).describe()).searchAttributes?.TenantId?.[0] as string;
    const entity = client.workflow.getHandle(`tenant-budget:${tenantId}`);
    const described = await entity.describe();
    const history = await entity.fetchHistory();
    const initiated = new Map<string, temporal.api.history.v1.IHistoryEvent>();
    for (const e of history.events ?? []) {
      const a = e.signalExternalWorkflowExecutionInitiatedEventAttributes;
      if (a?.workflowExecution?.workflowId === workflowId) initiated.set(String(e.eventId), e);
    }
    const answered = (history.events ?? []).filter((e) => {
      const done =
        e.externalWorkflowExecutionSignaledEventAttributes ?? e.signalExternalWorkflowExecutionFailedEventAttributes;
      return done && initiated.has(String(done.initiatedEventId));
    });
    out.push(
      `entity of ${tenantId}: run ${described.runId}, ${described.status.name}, ${history.events?.length} events; ${initiated.size} answers to this run initiated, ${answered.length} delivered or failed:`,
      ...[...initiated.values(), ...answered].map(line),
      '  its last events:',
      ...(history.events ?? []).slice(-6).map(line),
    );
    return out;
  }

  async function up(): Promise<void> {
    regions = await temporaryRegions({
      prefix: 'ados-test-regions-',
      regions: REGIONS,
      tls: true,
      keep: Boolean(process.env.ADOS_KEEP_TEST_REGIONS),
      log: (line) => process.stderr.write(`[regions] ${line}\n`),
    });
    for (const name of REGIONS) states.set(name, readState(join(regions.dir, name))!);
    // This process reads every region's runs, as an operator holding every region's keys would.
    const rings = REGIONS.map(
      (r) => JSON.parse(readFileSync(regionKeyRingPath(join(regions.dir, r)), 'utf8')) as KeyRing,
    );
    const operatorRing = join(regions.dir, 'operator-keyring.json');
    writeFileSync(
      operatorRing,
      JSON.stringify({ active: rings[0]!.active, keys: Object.assign({}, ...rings.map((r) => r.keys)) }),
      { mode: 0o600 },
    );
    keyRingBefore = process.env.ADOS_KEYRING;
    process.env.ADOS_KEYRING = operatorRing;
  }

  async function down(): Promise<void> {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(clients.map((c) => c.connection.close().catch(() => undefined)));
    await regions?.discard();
    if (keyRingBefore === undefined) delete process.env.ADOS_KEYRING;
    else process.env.ADOS_KEYRING = keyRingBefore;
  }

  return {
    REGIONS,
    up,
    down,
    state: (region: string) => states.get(region)!,
    get dir() {
      return regions.dir;
    },
    get info() {
      return regions.info;
    },
    executionLog,
    processesIn,
    adosIn,
    apiIn,
    clientOf,
    workerIn,
    workerOnce,
    localCopy,
    rowsIn,
    startLoad,
    runningAtLeast,
    outcomes,
    spendAgainstExecutions,
  };
}

/** A logged node (testkit/execution-log.ts). */
const loggedNode = (id: string, ms: number, costUsd = 0.001, deps: string[] = []) => ({
  id,
  kind: 'test.logged',
  params: { ms, costUsd },
  ...(deps.length ? { deps } : {}),
});

/** The failover tests' shapes in turn: a chain of three, a fan-in of three into one, a single node. */
function fixedShapes(runs: number, ms: number) {
  const shapes = [
    [loggedNode('a', ms), loggedNode('b', ms, 0.001, ['a']), loggedNode('c', ms, 0.001, ['b'])],
    [loggedNode('a', ms), loggedNode('b', ms), loggedNode('c', ms), loggedNode('d', ms, 0.001, ['a', 'b', 'c'])],
    [loggedNode('a', ms)],
  ];
  return Array.from({ length: runs }, (_, i) => shapes[i % 3]!);
}

/** Shapes drawn from a seed: chains of 1-4 nodes and fan-ins of 2-4 nodes into one, each node $0.001-0.005. */
function drawnShapes(runs: number, ms: number, seed: number) {
  const cost = fc.integer({ min: 1, max: 5 }).map((m) => m / 1000);
  const chain = fc
    .array(cost, { minLength: 1, maxLength: 4 })
    .map((costs) => costs.map((c, i) => loggedNode(`n${i}`, ms, c, i ? [`n${i - 1}`] : [])));
  const fanIn = fc.array(cost, { minLength: 3, maxLength: 5 }).map((costs) => {
    const sources = costs.slice(1).map((c, i) => loggedNode(`s${i}`, ms, c));
    return [
      ...sources,
      loggedNode(
        'join',
        ms,
        costs[0],
        sources.map((n) => n.id),
      ),
    ];
  });
  return fc.sample(fc.oneof(chain, fanIn), { seed, numRuns: runs });
}

/**
 * When a region took over these runs: the first event, and the first node completion, at or after
 * `after` among their histories as `client` reads them, counting only events written by region
 * `by` when one is given (an event's failover version names the cluster that wrote it). Infinity
 * when there is none.
 */
export async function firstWrites(
  client: Client,
  workflowIds: readonly string[],
  { after = -Infinity, by }: { after?: number; by?: ClusterState } = {},
): Promise<{ event: number; completion: number }> {
  const version = by && by.region!.initialFailoverVersion % FAILOVER_VERSION_INCREMENT;
  const first = { event: Infinity, completion: Infinity };
  for (const id of workflowIds)
    for (const event of (await client.workflow.getHandle(id).fetchHistory()).events ?? []) {
      const at = tsToMs(event.eventTime);
      if (at < after || (version !== undefined && Number(event.version) % FAILOVER_VERSION_INCREMENT !== version))
        continue;
      first.event = Math.min(first.event, at);
      if (event.activityTaskCompletedEventAttributes) first.completion = Math.min(first.completion, at);
    }
  return first;
}
