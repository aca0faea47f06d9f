/** Updates sent to an entity workflow, asked again when Temporal aborted them before the entity saw them. */
import { randomUUID } from 'node:crypto';

/**
 * Temporal aborts an update it had handed to a workflow task when that task's completion fails on
 * the server (seen on entities: a continue-as-new refused because a message arrived meanwhile). The
 * caller gets FAILED_PRECONDITION "Unable to perform workflow execution update due to unexpected
 * workflow task failure"; the update was never accepted, and the same request succeeds on the next
 * task. Seen about once per 2,000 updates on an entity under a steady stream of them.
 */
export function abortedByTaskFailure(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (/unexpected workflow task failure/i.test(e.message)) return true;
  }
  return false;
}

/** Aborted updates are asked again this many times in all. */
const ATTEMPTS = 5;
const RETRY_AFTER_MS = 100;

/**
 * Sends an update, asking again while Temporal aborts it for a failed workflow task. Each attempt
 * has an update id of its own: an aborted update was never accepted (Temporal aborts it so only
 * before acceptance), so the next cannot apply it twice, and a new id cannot be answered with the
 * aborted one's outcome. Other errors are the caller's to map.
 */
export async function updateAskingAgain<T>(send: (updateId: string) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(randomUUID());
    } catch (err) {
      if (attempt >= ATTEMPTS || !abortedByTaskFailure(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS * attempt));
    }
  }
}
