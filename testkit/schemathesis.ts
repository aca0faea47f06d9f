/** Schemathesis (from PyPI), which fuzzes the HTTP API against its OpenAPI document. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipInstallTarget } from '../infra/pip';
import { TEMPORAL_HOME } from '../infra/temporal-cli';

/** Schemathesis, the OpenAPI fuzzer, from PyPI into .temporal/ (as the Temporal CLI is); pinned. */
export const SCHEMATHESIS_PACKAGE = 'schemathesis==4.32.5';
const DIR = join(TEMPORAL_HOME, 'schemathesis');

/** The command to run `st`, installing it with pip the first time. */
export function schemathesis(): { command: string; env: NodeJS.ProcessEnv } {
  const st = join(DIR, 'bin', 'st');
  if (!existsSync(st)) {
    const failure = pipInstallTarget(SCHEMATHESIS_PACKAGE, DIR);
    if (failure || !existsSync(st))
      throw new Error(`pip install ${SCHEMATHESIS_PACKAGE} failed: ${failure ?? 'no st'}`);
  }
  return { command: st, env: { ...process.env, PYTHONPATH: DIR } };
}
