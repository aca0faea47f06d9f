/** How a closed run releases its slot through its worker. */
import { proxySinks, type Sinks } from '@temporalio/workflow';
import type { CostEvent } from '../domain/tenant/entity-payloads';

/**
 * How an admitted run gives its slot back and reports its last costs without holding itself open:
 * its worker signals the tenant entity after the run's last workflow task, from outside the
 * sandbox. A signal sent by the run itself would have to be delivered before the run may close
 * (Temporal drops a signal whose sender has closed): one more workflow task and three more events
 * per run. A sink is not exactly-once, so the release is idempotent (costs by key), and the export
 * sweep gives back, with the costs from its result, any closed run its entity still counts.
 */
export interface ReleaseSinks extends Sinks {
  releases: {
    release(input: {
      tenantId: string;
      runId: string;
      costs: CostEvent[];
      block?: { blockId: string; leaseMicros: number };
    }): void;
  };
}

export const { releases } = proxySinks<ReleaseSinks>();
