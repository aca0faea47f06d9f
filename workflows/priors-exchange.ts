/**
 * The priorsExchange workflow: in the directory of a deployment of regions, the latest release of
 * cross-tenant priors one placement shares with every region.
 */
import {
  allHandlersFinished,
  condition,
  makeContinueAsNewFunc,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { PublishedPriors } from './domain/learning/priors';
import { sharedReleaseSignal, type PriorsExchangeInput } from './messages/meta-learning';

/** Releases come at most once per publish interval; a few hundred fit in a short history. */
const EXCHANGE_HISTORY_EVENTS = 500;

/**
 * Holds the latest release `meta-learning:all-regions` of one placement (`input.source`, its
 * namespace) published, in its memo: the directory spans every region, so any region's copy lists
 * the releases without a worker or a query, even while the directory's active region is lost. It
 * holds only what the Laplace mechanism released (noised means and histograms, contributor
 * counts), never a tenant's statistics or id. A release older than the one held is ignored.
 */
export async function priorsExchange(input: PriorsExchangeInput): Promise<never> {
  let latest = input.latest;
  let shown = latest === undefined;
  setHandler(sharedReleaseSignal, (priors: PublishedPriors) => {
    if (latest && priors.version <= latest.version) return;
    latest = priors;
    shown = false;
  });
  const continueAsNew = makeContinueAsNewFunc<typeof priorsExchange>();
  for (;;) {
    const due = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= EXCHANGE_HISTORY_EVENTS;
    await condition(() => !shown || due());
    if (!shown) {
      upsertMemo({ source: input.source, priors: latest });
      shown = true;
    }
    if (due()) {
      await condition(allHandlersFinished);
      await continueAsNew({ source: input.source, ...(latest ? { latest } : {}) });
    }
  }
}
