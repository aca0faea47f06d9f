/** ADOS processes for tests: workers, the autoscaler, the HTTP API. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './docs';
import { starterName } from '../api/client/admission';
import { freePort } from '../infra/ports';
import { ADOS_BIN } from '../infra/project';
import type { QueueLoad } from '../workers/autoscale/policy';

const run = promisify(execFile);
export const ADOS = ADOS_BIN;

/** Signals a child process (SIGTERM: an ADOS worker drains first) and waits until it has exited. */
export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/** `ados worker [args]` in a process of its own, with the given environment (server, namespace, key ring). */
export function spawnAdosWorker(env: NodeJS.ProcessEnv, args: string[] = []): ChildProcess {
  return spawn(process.execPath, [ADOS, 'worker', ...args], {
    env: { ...env, ADOS_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** One change of target as the supervisor logs it: its reason and each queue's inputs. */
export interface LoggedAutoscaleDecision {
  at: string;
  from: number;
  to: number;
  reason: string;
  queues: Record<string, QueueLoad>;
  readMs: Record<string, number>;
}

/**
 * `ados worker --role nodes --autoscale …[args]` in a process of its own, logging at info on a
 * piped stderr (its node processes log there too): `decisions` fills with each change of target
 * as its log line completes.
 */
export function spawnAutoscaler(
  env: NodeJS.ProcessEnv,
  args: string[],
): { child: ChildProcess; decisions: LoggedAutoscaleDecision[] } {
  const child = spawn(process.execPath, [ADOS, 'worker', '--role', 'nodes', '--autoscale', ...args], {
    env: { ...env, ADOS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const decisions: LoggedAutoscaleDecision[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines)
      if (line.includes('autoscaler changed its target')) decisions.push(JSON.parse(line) as LoggedAutoscaleDecision);
  });
  return { child, decisions };
}

/**
 * `ados api` in a process of its own on a free port, with the given environment (server, admin
 * token, settings) and the rate limit raised unless it sets one, once it answers /healthz: its
 * process, URL, and its name as a starter in its tenants' block records.
 */
export async function spawnAdosApi(
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string; starter: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [ADOS, 'api', '--port', String(port)], {
    env: { ADOS_API_RATE_LIMIT: '1000000', ...env, ADOS_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { child, url, starter: starterName('api', child.pid!) };
    await new Promise((r) => setTimeout(r, 200));
  }
  await stopChild(child, 'SIGKILL');
  throw new Error(`the API at ${url} did not come up within 30 s`);
}

/**
 * As a user would, with the `ados` CLI in the given environment: tenant acme with $5, then
 * examples/rag-run.json run to its end as `runId`. Resolves with the run's result.
 */
export async function runExampleAsUser(env: NodeJS.ProcessEnv, runId: string): Promise<{ status: string }> {
  const ados = async (...args: string[]) =>
    JSON.parse((await run(process.execPath, [ADOS, '--json', ...args], { env, timeout: 120_000 })).stdout) as {
      status: string;
    };
  await ados('tenant', 'set', 'acme', '--budget-usd', '5');
  return ados(
    'run',
    'start',
    '--tenant',
    'acme',
    '--dag',
    join(REPO, 'examples', 'rag-run.json'),
    '--run-id',
    runId,
    '--wait',
  );
}
