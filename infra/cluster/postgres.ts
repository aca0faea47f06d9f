/** PostgreSQL for a local cluster. */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../user-error';
import { aptInstall } from '../apt';
import { environment } from '../config';

/**
 * PostgreSQL for a local cluster: a private data directory, one superuser `temporal` trusted on
 * 127.0.0.1 only (no Unix socket), started and stopped with pg_ctl. As root it runs as the `postgres`
 * user, because PostgreSQL refuses to run as root.
 */
export interface Postgres {
  bin: string;
  data: string;
  port: number;
  logFile: string;
}

export const PG_USER = 'temporal';

export function findPostgresBin(env: NodeJS.ProcessEnv = environment()): string {
  if (env.ADOS_POSTGRES_BIN) {
    if (!existsSync(join(env.ADOS_POSTGRES_BIN, 'initdb')))
      throw new UserError(
        `ADOS_POSTGRES_BIN=${env.ADOS_POSTGRES_BIN} has no initdb; point it at PostgreSQL's bin directory`,
      );
    return env.ADOS_POSTGRES_BIN;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length)
    throw new UserError(
      'PostgreSQL server binaries not found: install them (apt-get install -y postgresql-15) or set ADOS_POSTGRES_BIN to their bin directory',
      'UNAVAILABLE',
    );
  return join(root, versions[0]!, 'bin');
}

/** PostgreSQL's server binaries, installed from Debian (postgresql-15) when none are found. */
export function ensurePostgresBin(env: NodeJS.ProcessEnv = environment()): string {
  try {
    return findPostgresBin(env);
  } catch (err) {
    if (env.ADOS_POSTGRES_BIN) throw err;
  }
  try {
    aptInstall(['postgresql-15']);
  } catch (err) {
    throw new UserError(
      `PostgreSQL server binaries are missing and apt-get install postgresql-15 failed (${(err as Error).message}); install them, or set ADOS_POSTGRES_BIN`,
      'UNAVAILABLE',
    );
  }
  return findPostgresBin(env);
}

/** The uid/gid PostgreSQL runs as: ours, unless we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0)
    throw new UserError(
      'running as root, and PostgreSQL refuses root: create the postgres user (apt-get install postgresql-15 does) or run ados cluster as another user',
      'UNAVAILABLE',
    );
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function pgTool(pg: Postgres, tool: string, args: string[], options: SpawnSyncOptions = {}) {
  const ids = runAs();
  return spawnSync(join(pg.bin, tool), args, {
    encoding: 'utf8',
    timeout: 120_000,
    ...options,
    ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    env: { ...environment(), LC_ALL: 'C' },
  });
}

function lastLines(text: string | Buffer | null | undefined, n = 2): string {
  return String(text ?? '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .slice(-n)
    .join(' | ');
}

/** initdb once; a data directory that exists is kept (data survives down/up). */
export function initPostgres(pg: Postgres): void {
  const ids = runAs();
  mkdirSync(pg.data, { recursive: true, mode: 0o700 });
  if (!existsSync(pg.logFile)) writeFileSync(pg.logFile, '');
  if (ids) {
    chownSync(pg.data, ids.uid, ids.gid);
    chownSync(pg.logFile, ids.uid, ids.gid);
  }
  if (existsSync(join(pg.data, 'PG_VERSION'))) return;
  const init = pgTool(pg, 'initdb', ['-D', pg.data, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--locale=C']);
  if (init.status !== 0)
    throw new UserError(
      `PostgreSQL initdb failed in ${pg.data}: ${lastLines(init.stderr)} (the postgres user must be able to reach this directory: check its parents' permissions)`,
      'UNAVAILABLE',
    );
}

/** The postmaster's pid, from its data directory's `postmaster.pid` (PostgreSQL writes it there while it runs). */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

export function postgresRunning(pg: Postgres): boolean {
  if (!existsSync(join(pg.data, 'postmaster.pid'))) return false;
  return pgTool(pg, 'pg_ctl', ['status', '-D', pg.data]).status === 0;
}

export function startPostgres(pg: Postgres): void {
  if (postgresRunning(pg)) return;
  const options = [
    `-p ${pg.port}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    '-c max_connections=400',
    '-c shared_buffers=256MB',
    '-c synchronous_commit=on',
  ].join(' ');
  const start = pgTool(pg, 'pg_ctl', ['start', '-D', pg.data, '-l', pg.logFile, '-w', '-t', '60', '-o', options]);
  if (start.status !== 0) {
    const log = existsSync(pg.logFile) ? readFileSync(pg.logFile, 'utf8') : '';
    const cause = /could not bind|Address already in use/i.test(log)
      ? `port ${pg.port} is taken; free it or pass --pg-port`
      : lastLines(log || start.stderr || start.stdout);
    throw new UserError(`PostgreSQL refused to start: ${cause} (log ${pg.logFile})`, 'UNAVAILABLE');
  }
}

export function stopPostgres(pg: Postgres): boolean {
  if (!postgresRunning(pg)) return false;
  const stop = pgTool(pg, 'pg_ctl', ['stop', '-D', pg.data, '-m', 'fast', '-w', '-t', '60']);
  if (stop.status !== 0) throw new UserError(`PostgreSQL did not stop: ${lastLines(stop.stderr)}`, 'UNAVAILABLE');
  return true;
}

/**
 * Temporal's two databases with their schemas (embedded in temporal-sql-tool): created and set up
 * the first time, and brought to the tool's newest schema version every time (how a server upgrade
 * upgrades its schema).
 */
export function applySchemas(pg: Postgres, sqlTool: string): void {
  const base = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(pg.port), '-u', PG_USER];
  const sql = (db: string, args: string[]) =>
    spawnSync(sqlTool, [...base, '--db', db, ...args], { encoding: 'utf8', timeout: 120_000 });
  for (const [db, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    const create = sql(db, ['create']);
    const output = `${create.stdout}${create.stderr}`;
    const fresh = create.status === 0 && !/already exists/i.test(output);
    if (create.status !== 0 && !/already exists/i.test(output))
      throw new UserError(`creating database ${db} failed: ${lastLines(output)}`, 'UNAVAILABLE');
    if (fresh) {
      const setup = sql(db, ['setup-schema', '-v', '0.0']);
      if (setup.status !== 0)
        throw new UserError(
          `setting up the ${db} schema failed: ${lastLines(setup.stderr || setup.stdout)}`,
          'UNAVAILABLE',
        );
    }
    const update = sql(db, ['update-schema', '--schema-name', schema]);
    if (update.status !== 0)
      throw new UserError(
        `updating the ${db} schema failed: ${lastLines(update.stderr || update.stdout)}`,
        'UNAVAILABLE',
      );
  }
}
