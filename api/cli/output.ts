/** The CLI's output: JSON or text, and its exit codes. */
import type { Command } from 'commander';

/** Exit codes scripts can rely on. */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  INVALID: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  UNAVAILABLE: 5,
  RUN_NOT_SUCCESSFUL: 6,
} as const;

let root: Command | undefined;

/** The program whose `--json` option every command's output follows. */
export function outputFor(program: Command): void {
  root = program;
}

/** `--json` was given: print machine-readable JSON. */
export const json = (): boolean => Boolean(root?.opts().json);

/** One result: JSON with `--json`, else the human rendering. */
export function print(value: unknown, human: () => string): void {
  process.stdout.write(`${json() ? JSON.stringify(value, null, 2) : human()}\n`);
}
