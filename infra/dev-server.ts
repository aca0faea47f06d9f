/** The embedded Temporal dev server (the Temporal CLI from PyPI). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { ADOS_SEARCH_ATTRIBUTES } from '../workflows/ports/search-attributes';
import { TEMPORAL_HOME, findTemporalCli } from './temporal-cli';
import type { TemporalTarget } from './temporal-connection';

export const DEFAULT_DB_FILE = join(TEMPORAL_HOME, 'ados-dev.db');

const SEARCH_ATTRIBUTE_TYPES: Record<string, string> = {
  KEYWORD: 'Keyword',
  DOUBLE: 'Double',
  INT: 'Int',
  TEXT: 'Text',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
};

export interface DevServerOptions {
  /** @default 7233 */
  port?: number;
  /** @default 8233 */
  uiPort?: number;
  /** SQLite file for persistent state; `null` keeps everything in memory (tests). @default .temporal/ados-dev.db */
  dbFile?: string | null;
  /** No Web UI. @default false */
  headless?: boolean;
  /** @default 'error' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** How long to wait for the server to answer. @default 60000 */
  startTimeoutMs?: number;
  /** Extra dynamic config, e.g. a low `limit.historyCount.suggestContinueAsNew` in tests. @default none */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** A remote codec the Web UI decodes payloads with (`ados codec-server`). @default none */
  uiCodecEndpoint?: string;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The dev server's command line: persistent SQLite with WAL, the five search attributes, fairness on. */
export function devServerArgs({
  port = 7233,
  uiPort = 8233,
  dbFile = DEFAULT_DB_FILE,
  headless = false,
  logLevel = 'error',
  dynamicConfig = {},
  uiCodecEndpoint,
}: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', logLevel];
  if (dbFile)
    args.push('--db-filename', dbFile, '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  if (headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-disable-news-fetch');
  if (!headless && uiCodecEndpoint) args.push('--ui-codec-endpoint', uiCodecEndpoint);
  for (const key of ADOS_SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${key.name}=${SEARCH_ATTRIBUTE_TYPES[key.type]}`);
  for (const [key, value] of Object.entries({ 'matching.enableFairness': true, ...dynamicConfig })) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return args;
}

/**
 * Starts `temporal server start-dev` and waits until it serves the default namespace. A server that
 * exits while starting (it binds several ports, some picked at random, and one may be taken in the
 * meantime) is started once more before the error is reported.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  try {
    return await startDevServerOnce(options);
  } catch (err) {
    if (!(err instanceof DevServerExited)) throw err;
    await new Promise((r) => setTimeout(r, 1000));
    return startDevServerOnce(options);
  }
}

class DevServerExited extends Error {}

async function startDevServerOnce(options: DevServerOptions): Promise<DevServer> {
  const { port = 7233, uiPort = 8233, headless = false, startTimeoutMs = 60_000 } = options;
  const cli = findTemporalCli();
  const dbFile = options.dbFile === undefined ? DEFAULT_DB_FILE : options.dbFile;
  if (dbFile) mkdirSync(dirname(dbFile), { recursive: true });
  const address = `127.0.0.1:${port}`;
  const child = spawn(cli, devServerArgs({ ...options, dbFile }), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));

  const deadline = Date.now() + startTimeoutMs;
  while (!(await temporalAnswers(address))) {
    if (exited !== undefined) {
      // The cause is near the top of a Go panic, the stack after it.
      const lines = stderr.trim().split('\n');
      const cause = lines.filter((l) => /panic|error|bind|address|fatal/i.test(l)).slice(0, 3);
      throw new DevServerExited(
        `temporal dev server exited with code ${exited}: ${[...cause, ...lines.slice(-2)].join(' | ')}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `temporal dev server did not answer at ${address} within ${startTimeoutMs} ms: ${stderr.trim().slice(-500)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    ...(headless ? {} : { uiUrl: `http://localhost:${uiPort}` }),
    process: child,
    stop: () => stopProcess(child),
  };
}

/** True if a Temporal frontend at the address (or target, with its TLS and API key) serves its namespace. */
export async function temporalAnswers(at: string | TemporalTarget, timeoutMs = 1000): Promise<boolean> {
  const target = typeof at === 'string' ? undefined : at;
  try {
    const connection = await Connection.connect({
      ...(target ? target.connectionOptions : { address: at as string }),
      connectTimeout: timeoutMs,
    });
    try {
      await connection.workflowService.describeNamespace({ namespace: target?.namespace ?? 'default' });
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
