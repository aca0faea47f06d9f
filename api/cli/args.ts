/** Argument parsers for the CLI's flags, each refusing a bad value with a message naming the flag. */
import { InvalidArgumentError } from 'commander';
import { ID_PATTERN, isValidId } from '../../workflows/domain/ids';
import { UserError } from '../../infra/user-error';
import { parseProcessRange } from '../../workers/autoscale/policy';

export function int(name: string, min: number, max: number) {
  return (raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

export function positiveNumber(name: string) {
  return (raw: string) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

/** A fraction in (0, 1], e.g. a target share of the machine's CPU. */
export function fraction(name: string) {
  return (raw: string) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > 1)
      throw new InvalidArgumentError(`${name} must be a fraction above 0 and at most 1, e.g. 0.8`);
    return n;
  };
}

/**
 * `MIN..MAX` for `--autoscale`, checked by the policy's rule; `limit` bounds MAX. A bad range is a
 * UserError (the message alone, exit 2), as it was when the commands checked it themselves.
 */
export function processRange(limit?: Parameters<typeof parseProcessRange>[1]) {
  return (raw: string) => {
    try {
      return parseProcessRange(raw, limit);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
  };
}

/** Comma-separated http(s) URLs; a malformed one is a UserError naming it. */
export function urlList(name: string) {
  return (raw: string) =>
    list(raw).map((url) => {
      const parsed = URL.canParse(url) ? new URL(url) : undefined;
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
        throw new UserError(
          `${name}: ${JSON.stringify(url)} is not an http(s) URL, e.g. http://127.0.0.1:9464/metrics`,
        );
      return parsed.href;
    });
}

/** An id from the command line, checked before it reaches Temporal or a path. */
export function assertCliId(what: string, value: string): string {
  if (!isValidId(value))
    throw new UserError(`invalid ${what} ${JSON.stringify(value)}: ids must match ${ID_PATTERN.source}`);
  return value;
}

/** Resolves on Ctrl-C or SIGTERM: long-running commands then stop what they started. */
export function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

export function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
