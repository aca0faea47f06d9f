/**
 * The cross-tenant priors' activities: a tenant's statistics in and out of its meta-learning
 * entity, the priors it learns from, and, in a deployment of regions, the releases placements share
 * with every region through the directory's priors exchange.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { loadConfig } from '../infra/config';
import { LOCAL_ONLY, namespaceClient } from '../infra/temporal-connection';
import {
  DIRECTORY_NAMESPACE,
  ENTITY_TASK_QUEUE,
  ENTITY_WORKFLOW_TASK_TIMEOUT,
  META_LEARNING_SHARED_WORKFLOW_ID,
  META_LEARNING_WORKFLOW_ID,
  assertId,
  metaLearningWorkflowId,
  priorsExchangeWorkflowId,
} from '../workflows/domain/ids';
import { mergeReleases, type PriorsConfig, type PublishedPriors } from '../workflows/domain/learning/priors';
import { metaLearning } from '../workflows/meta-learning';
import { priorsExchange } from '../workflows/priors-exchange';
import {
  contributeStatsSignal,
  priorsQuery,
  sharedReleaseSignal,
  withdrawStatsSignal,
} from '../workflows/messages/meta-learning';
import type { ControlActivities } from '../workflows/ports/activities';

type PriorsActivities = Pick<
  ControlActivities,
  'contributeCostStats' | 'withdrawCostStats' | 'publishedPriors' | 'shareRelease'
>;

/** The entity's latest release, or undefined before its first or if it never started. */
async function releaseOf(client: Client, workflowId: string): Promise<PublishedPriors | undefined> {
  return client.workflow
    .getHandle(workflowId)
    .query(priorsQuery)
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
}

/**
 * The releases other placements share with every region, as this region's copy of the directory
 * lists them (never forwarded: a region cut off from the directory's active region still reads them).
 */
async function sharedElsewhere(client: Client): Promise<Array<{ source: string; priors: PublishedPriors }>> {
  const found: Array<{ source: string; priors: PublishedPriors }> = [];
  const directory = namespaceClient(client, DIRECTORY_NAMESPACE);
  await client.connection.withMetadata(LOCAL_ONLY, async () => {
    for await (const wf of directory.workflow.list({ query: `WorkflowType = 'priorsExchange'` })) {
      const { source, priors } = (wf.memo ?? {}) as { source?: string; priors?: PublishedPriors };
      if (source && priors && source !== client.options.namespace) found.push({ source, priors });
    }
  });
  return found.sort((a, b) => (a.source < b.source ? -1 : 1));
}

/** The priors a tenant of `client`'s namespace learns from: its placement's releases, and in regions every release shared with all of them. */
async function priorsFor(client: Client): Promise<PublishedPriors | undefined> {
  const here = client.options.namespace;
  const local = await releaseOf(client, META_LEARNING_WORKFLOW_ID);
  if (!loadConfig().ADOS_REGION) return local;
  const releases = [
    ...(local ? [{ source: here, priors: local }] : []),
    ...(await releaseOf(client, META_LEARNING_SHARED_WORKFLOW_ID).then((p) =>
      p ? [{ source: `${here} (all regions)`, priors: p }] : [],
    )),
    ...(await sharedElsewhere(client)),
  ];
  return mergeReleases(releases);
}

async function withdrawFrom(client: Client, workflowId: string, tenantId: string): Promise<void> {
  await client.workflow
    .getHandle(workflowId)
    .signal(withdrawStatsSignal, { tenantId })
    // Nothing to withdraw from if that entity never started.
    .catch((err: unknown) => {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    });
}

export function createPriorsActivities(
  getClient: () => Promise<Client>,
  priorsConfig: () => Partial<PriorsConfig>,
): PriorsActivities {
  return {
    async contributeCostStats({ tenantId, stats, tokens, scope }) {
      const c = await getClient();
      const inRegions = Boolean(loadConfig().ADOS_REGION);
      const shared = metaLearningWorkflowId(scope, inRegions) === META_LEARNING_SHARED_WORKFLOW_ID;
      await c.workflow.signalWithStart(metaLearning, {
        workflowId: shared ? META_LEARNING_SHARED_WORKFLOW_ID : META_LEARNING_WORKFLOW_ID,
        taskQueue: ENTITY_TASK_QUEUE,
        workflowTaskTimeout: ENTITY_WORKFLOW_TASK_TIMEOUT,
        args: [{ config: priorsConfig(), ...(shared ? { share: true } : {}) }],
        signal: contributeStatsSignal,
        signalArgs: [{ tenantId: assertId('tenant id', tenantId), stats, ...(tokens ? { tokens } : {}) }],
        staticSummary: `cross-tenant cost priors (Laplace-noised)${shared ? ', shared with every region' : ''}`,
      });
      // A tenant that changed its scope leaves the other pool.
      if (inRegions)
        await withdrawFrom(c, shared ? META_LEARNING_WORKFLOW_ID : META_LEARNING_SHARED_WORKFLOW_ID, tenantId);
      return priorsFor(c);
    },
    async withdrawCostStats({ tenantId }) {
      const c = await getClient();
      await withdrawFrom(c, META_LEARNING_WORKFLOW_ID, tenantId);
      if (loadConfig().ADOS_REGION) await withdrawFrom(c, META_LEARNING_SHARED_WORKFLOW_ID, tenantId);
    },
    async publishedPriors() {
      return priorsFor(await getClient());
    },
    async shareRelease({ priors }) {
      const c = await getClient();
      const source = c.options.namespace;
      await namespaceClient(c, DIRECTORY_NAMESPACE).workflow.signalWithStart(priorsExchange, {
        workflowId: priorsExchangeWorkflowId(source),
        taskQueue: ENTITY_TASK_QUEUE,
        args: [{ source }],
        memo: { source },
        signal: sharedReleaseSignal,
        signalArgs: [priors],
        staticSummary: `cross-tenant priors ${source} shares with every region (Laplace-noised)`,
      });
    },
  };
}
