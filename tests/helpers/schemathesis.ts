import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TEMPORAL_HOME } from '../../infra/temporal-cli';

/** Schemathesis, the OpenAPI fuzzer, from PyPI into .temporal/ (as the Temporal CLI is); pinned. */
export const SCHEMATHESIS_PACKAGE = 'schemathesis==4.32.5';
const DIR = join(TEMPORAL_HOME, 'schemathesis');

/** The command to run `st`, installing it with pip the first time. */
export function schemathesis(): { command: string; env: NodeJS.ProcessEnv } {
  const st = join(DIR, 'bin', 'st');
  if (!existsSync(st)) {
    const pip = spawnSync(
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        '--target',
        DIR,
        SCHEMATHESIS_PACKAGE,
      ],
      { encoding: 'utf8', timeout: 600_000 },
    );
    if (pip.status !== 0 || !existsSync(st))
      throw new Error(
        `pip install ${SCHEMATHESIS_PACKAGE} failed: ${(pip.stderr || pip.stdout).trim().split('\n').slice(-3).join(' | ')}`,
      );
  }
  return { command: st, env: { ...process.env, PYTHONPATH: DIR } };
}
