import type { Client } from '@temporalio/client';
import type { InjectedSinks } from '@temporalio/worker';
import { releaseRunSignal } from '../workflows/messages/tenant-budget';
import { tenantBudgetWorkflowId } from '../workflows/policy/ids';
import type { ReleaseSinks } from '../workflows/release-sink';
import { logger } from '../activities/logger';

/** How long one release may take before the worker leaves it to the export sweep. */
const RELEASE_TIMEOUT_MS = 5_000;

/**
 * The worker side of the runs' `releases` sink: the release signal, sent before the run's last
 * workflow task completes. A release that fails (Temporal unreachable, the worker killed) is made
 * again by the export sweep, from the closed run's result; repeats change nothing.
 */
export function releaseSinks(client: () => Promise<Client>): InjectedSinks<ReleaseSinks> {
  return {
    releases: {
      release: {
        fn: async (_info, { tenantId, runId, costs, block }) => {
          try {
            const c = await client();
            await c.withDeadline(Date.now() + RELEASE_TIMEOUT_MS, () =>
              c.workflow
                .getHandle(tenantBudgetWorkflowId(tenantId))
                .signal(releaseRunSignal, { runId, costs, ...(block ? { block } : {}) }),
            );
          } catch (err) {
            logger.warn(
              { tenantId, runId, error: String(err) },
              'run release not sent; the export sweep will release the run',
            );
          }
        },
      },
    },
  };
}
