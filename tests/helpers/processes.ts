import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './docs';

const run = promisify(execFile);
export const ADOS = join(REPO, 'bin', 'ados.js');

/** Signals a child process (SIGTERM: an ADOS worker drains first) and waits until it has exited. */
export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/** `ados worker` in a process of its own, with the given environment (server, namespace, key ring). */
export function spawnAdosWorker(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [ADOS, 'worker'], {
    env: { ...env, ADOS_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
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
