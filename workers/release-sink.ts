/** The release sink: a closed run gives its slot back and reports its last costs through its worker. */
import type { Client } from '@temporalio/client';
import type { InjectedSinks } from '@temporalio/worker';
import {
  MAX_RELEASES_PER_SIGNAL,
  releaseRunSignal,
  releaseRunsSignal,
  type RunRelease,
} from '../workflows/messages/tenant-budget';
import { tenantBudgetWorkflowId } from '../workflows/domain/ids';
import type { ReleaseSinks } from '../workflows/ports/release-sink';
import { logger } from '../infra/logging/logger';

/** How long one release may take before the worker leaves it to the export sweep. */
const RELEASE_TIMEOUT_MS = 5_000;

/**
 * The worker side of the runs' `releases` sink: the release signal, sent before the run's last
 * workflow task completes. One signal at a time per tenant: a release made while the tenant's last
 * one is on its way waits for it and goes with the others that came meanwhile, in one
 * `releaseRuns` signal (a burst of runs ending together is a few signals, not one each). A release
 * that fails (Temporal unreachable, the worker killed) is made again by the export sweep, from the
 * closed run's result; repeats change nothing.
 */
export function releaseSinks(client: () => Promise<Client>): InjectedSinks<ReleaseSinks> {
  // Each waiting release resolves once sent, so that its run's last workflow task completes after it, as before.
  // A tenant is in the map while its releases are being sent.
  const tenants = new Map<string, Array<{ release: RunRelease; sent: () => void }>>();

  async function send(tenantId: string, releases: RunRelease[]): Promise<void> {
    try {
      const c = await client();
      const entity = c.workflow.getHandle(tenantBudgetWorkflowId(tenantId));
      await c.withDeadline(Date.now() + RELEASE_TIMEOUT_MS, () =>
        releases.length === 1
          ? entity.signal(releaseRunSignal, releases[0]!)
          : entity.signal(releaseRunsSignal, { releases }),
      );
    } catch (err) {
      logger.warn(
        { tenantId, runIds: releases.map((r) => r.runId), error: String(err) },
        'run release not sent; the export sweep will release the run',
      );
    }
  }

  async function drain(tenantId: string): Promise<void> {
    const queue = tenants.get(tenantId)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_RELEASES_PER_SIGNAL);
      await send(
        tenantId,
        batch.map((b) => b.release),
      );
      for (const b of batch) b.sent();
    }
    tenants.delete(tenantId);
  }

  return {
    releases: {
      release: {
        fn: async (_info, { tenantId, runId, costs, block }) => {
          const sending = tenants.get(tenantId);
          const queue = sending ?? [];
          if (!sending) tenants.set(tenantId, queue);
          const sent = new Promise<void>((resolve) =>
            queue.push({ release: { runId, costs, ...(block ? { block } : {}) }, sent: resolve }),
          );
          if (!sending) void drain(tenantId);
          await sent;
        },
      },
    },
  };
}
