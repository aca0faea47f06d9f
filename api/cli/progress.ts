/** Progress bars for `ados run start --wait`, polled from runs' progress queries. */
import cliProgress from 'cli-progress';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';

const DONE = new Set(['COMPLETED', 'FAILED', 'SKIPPED', 'CANCELLED']);

export function nodesDone(result: DeliveryRunResult): number {
  return Object.values(result.nodes).filter((n) => DONE.has(n.status)).length;
}

/** A progress bar per run or per tenant: nodes (or runs) done, spend and status. */
export function createBars(enabled: boolean): cliProgress.MultiBar | undefined {
  if (!enabled) return undefined;
  return new cliProgress.MultiBar(
    {
      format: ' {label} |{bar}| {value}/{total} {unit} · ${cost} · {status}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

/**
 * Calls `refresh` every interval, never two at once; `stop()` waits for the one in flight, so the
 * connection it uses can be closed safely afterwards.
 */
export function poll(refresh: () => Promise<void>, intervalMs = 500): { stop(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    inFlight ??= refresh()
      .catch(() => undefined)
      .finally(() => (inFlight = undefined));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
