import { makeContinueAsNewFunc, patched, workflowInfo, type Workflow } from '@temporalio/workflow';
import { ENTITY_TASK_QUEUE } from '../domain/ids';

/**
 * An entity continues-as-new by this many history events, well before Temporal suggests it (4,096
 * by default). Under a steady stream of messages a continue-as-new is often refused (a signal came
 * in meanwhile), and each refusal makes the worker replay the whole execution before it tries
 * again: a short history is replayed in a moment, so the next try lands.
 */
export const ENTITY_HISTORY_EVENTS = 2_000;

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
  /**
   * Only an execution that moves records this marker. The queue alone cannot say it on replay: a
   * replayer runs every history on a task queue of its own.
   */
  private readonly misplaced = workflowInfo().taskQueue !== ENTITY_TASK_QUEUE && patched('ados-entity-move');
  readonly continueAsNew = makeContinueAsNewFunc<F>({ taskQueue: ENTITY_TASK_QUEUE });

  /** Time to continue-as-new: Temporal suggests it, the history reached its length, or the entity is on the wrong queue. */
  due(): boolean {
    const { continueAsNewSuggested, historyLength } = workflowInfo();
    return (
      continueAsNewSuggested ||
      (this.misplaced && historyLength >= MOVE_AFTER_EVENTS) ||
      (this.current && historyLength >= ENTITY_HISTORY_EVENTS)
    );
  }
}
