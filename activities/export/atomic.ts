/** Where artifacts go on disk, and writing them atomically (a reader never sees half a file). */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { assertId } from '../../workflows/domain/ids';
import { loadConfig } from '../../infra/config';

/** Where artifacts go: ADOS_ARTIFACTS_DIR, else ./artifacts of the working directory. */
export function artifactsRoot(): string {
  return resolve(loadConfig().ADOS_ARTIFACTS_DIR);
}

/** Ids are checked before they become paths, so no id can name a file outside the artifacts folder. */
export function runArtifactsDir(tenantId: string, runId: string, root = artifactsRoot()): string {
  return join(root, 'runs', assertId('tenant id', tenantId), assertId('run id', runId));
}

export function tenantArtifactsDir(tenantId: string, root = artifactsRoot()): string {
  return join(root, 'tenants', assertId('tenant id', tenantId));
}

/**
 * Writes a file whole or not at all: a temporary file beside it, then a rename, which replaces
 * the target atomically. A crash leaves either the old file or the new one, never half of one.
 */
export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(temp, content);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
