/** The entity's lifetime: when it continues-as-new, and what it carries. */
import { makeContinueAsNewFunc, patched, workflowInfo, type Workflow } from '@temporalio/workflow';
import { ENTITY_TASK_QUEUE, ENTITY_WORKFLOW_TASK_TIMEOUT } from '../domain/ids';

/**
 * An entity continues-as-new by this many history events, well before Temporal suggests it (4,096
 * by default). What bounds it is the cost of a full replay. A worker replays an entity's whole
 * history whenever it lost the entity from its cache: after a continue-as-new the server refused (a
 * signal came in meanwhile, common under a steady stream of messages), a workflow task that timed
 * out, a restart. The entities of one worker share one workflow thread, so while one replays, the
 * others' tasks wait. Measured on the cluster under a burst of 10,000 runs (2 cores, saturated): a
 * 2,700-event entity took 7 s to replay; its next tasks and its neighbours' timed out behind it and
 * were evicted in turn, and four of ten tenants' entities completed no workflow task for 20 minutes.
 * At 500 events a replay takes a quarter of that, and the state carried over (about 80 kB) is
 * written once per 500 events.
 */
export const ENTITY_HISTORY_EVENTS = 500;

/** The length executions started before `ENTITY_HISTORY_EVENTS` was lowered continue-as-new at (patch `ados-entity-short-history`). */
export const ENTITY_HISTORY_EVENTS_BEFORE = 2_000;

/**
 * An entity started on another queue moves once its history has this many events: soon, but not
 * in its first workflow task, where the move would race the change a script makes right after it
 * starts the entity (`temporal workflow start` then `update`; the Temporal CLI was seen to fail
 * such an update once, with "Unknown encoding", when it crossed the move).
 */
export const MOVE_AFTER_EVENTS = 20;

/**
 * When an entity workflow (a tenant's budget, meta-learning) continues-as-new, and where to: on
 * its own task queue, where no burst of runs holds the workflow-task slots it needs to answer.
 * An entity started elsewhere (by a script written before this queue, on `ados-control`) moves
 * there soon after it starts. Executions recorded before either rule keep their own: they
 * continue-as-new when Temporal suggests it, and move at that point (the patches mark which is which).
 */
export class EntityLifetime<F extends Workflow> {
  private readonly current = patched('ados-entity-queue');
  private readonly maxEvents =
    this.current && patched('ados-entity-short-history') ? ENTITY_HISTORY_EVENTS : ENTITY_HISTORY_EVENTS_BEFORE;
  /**
   * Only an execution that moves records this marker. The queue alone cannot say it on replay: a
   * replayer runs every history on a task queue of its own.
   */
  private readonly misplaced = workflowInfo().taskQueue !== ENTITY_TASK_QUEUE && patched('ados-entity-move');
  readonly continueAsNew = makeContinueAsNewFunc<F>({
    taskQueue: ENTITY_TASK_QUEUE,
    workflowTaskTimeout: ENTITY_WORKFLOW_TASK_TIMEOUT,
  });

  /** Time to continue-as-new: Temporal suggests it, the history reached its length, or the entity is on the wrong queue. */
  due(): boolean {
    const { continueAsNewSuggested, historyLength } = workflowInfo();
    return (
      continueAsNewSuggested ||
      (this.misplaced && historyLength >= MOVE_AFTER_EVENTS) ||
      (this.current && historyLength >= this.maxEvents)
    );
  }
}
