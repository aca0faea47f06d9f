/**
 * The deliveryRun workflow's API besides its input: the query it answers, the signals the tenant
 * entity sends it (declared with the entity's messages), and its optional second argument.
 */
import { defineQuery } from '@temporalio/workflow';
import type { AdmissionTicket } from '../domain/tenant/entity-payloads';
import type { DeliveryRunResult } from '../domain/run/run-result';
import type { RunPrices } from '../domain/pricing/catalog';

export { admissionDecisionSignal, leaseGrantedSignal, pressureChangedSignal } from './tenant-budget';

/** The run's result so far: the same shape as its final result. */
export const progressQuery = defineQuery<DeliveryRunResult>('progress');

/**
 * What an ADOS client (CLI, API, demo) settles before it starts a run, passed as the run's second
 * argument so that the run needs no round trip for it. A run started without one (from the
 * Temporal CLI) reads its settings from its worker and asks its tenant for admission by signal.
 */
export interface RunLaunch {
  /** The tenant's admission answer (`admitRuns`): ADMITTED with the first lease, or REJECTED. Absent: the run queues by signal. */
  ticket?: AdmissionTicket;
  /** The deployment's ADOS_NODE_PARTITIONS, which names the tenant's node queue. */
  nodePartitions: number;
  /** Every node kind of the DAG is registered (checked by the starter against the registry the workers load too). */
  kindsChecked: boolean;
  /** How long admission took, for the admission-wait metric. @default 0 */
  admissionWaitMs?: number;
  /** The LLM prices the run estimates with (the starter's price source), so replay never sees another. */
  prices?: RunPrices;
  /**
   * Per retrieval node, the o200k tokens of the prompt its generation nodes build before any
   * passage is added (the instruction and the question), counted by the starter: what a forecast
   * adds top_k passages to.
   */
  promptBases?: Record<string, number>;
}
