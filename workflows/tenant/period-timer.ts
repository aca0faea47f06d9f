/** The tenant entity's one timer: it wakes the entity when the budget period ends. */
import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';

/**
 * Wakes the entity when its budget period ends: one timer per period, restarted only when the
 * period's end moves (a new period, or a config change). Executions recorded before it existed
 * started a timer on every wait instead (two history events per message batch).
 */
export class PeriodTimer {
  private end: string | undefined;
  private scope: CancellationScope | undefined;
  due = false;

  /** Makes sure a timer runs until `end` (none for a tenant without periods). */
  watch(end: string | undefined, now: string): void {
    // A timer that fired before the period could roll over (its end not yet reached by workflow time) is set again.
    if (end === this.end && !this.due) return;
    this.scope?.cancel();
    this.end = end;
    this.due = false;
    this.scope = undefined;
    if (end === undefined) return;
    const scope = new CancellationScope();
    this.scope = scope;
    scope
      .run(() => sleep(Math.max(1, Date.parse(end) - Date.parse(now))))
      .then(
        () => {
          if (this.scope === scope) this.due = true;
        },
        (err: unknown) => {
          if (!isCancellation(err)) throw err;
        },
      );
  }
}
