/** Reading a run file (JSON or YAML) for `ados run start`. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
import { UserError } from '../client';

/**
 * Reads a run from JSON or YAML: either a whole deliveryRun input, or just its `dag`
 * (`{ name, nodes }`), which the command line completes with tenant, priority and so on.
 */
export function readRunFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    throw new UserError(
      `${path} is not valid ${extname(path).slice(1) || 'JSON'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UserError(`${path} must hold an object: a run input or a dag`);
  const object = parsed as Record<string, unknown>;
  return 'dag' in object ? object : { dag: object };
}
