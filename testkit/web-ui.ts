/** Reading the Temporal Web UI's pages in a browser. */
import type { Page } from 'playwright-core';

/**
 * Whether `text` shows in any frame of the page within 15 s. The Web UI renders summaries and
 * details as markdown inside sandboxed frames, and replaces those frames as it re-renders: a frame
 * detached under the count is looked at again on the next turn.
 */
export async function textInAnyFrame(page: Page, text: string | RegExp): Promise<boolean> {
  for (let i = 0; i < 30; i++) {
    for (const frame of page.frames()) {
      const found = await frame
        .getByText(text)
        .count()
        .catch(() => 0);
      if (found > 0) return true;
    }
    await page.waitForTimeout(500);
  }
  return false;
}
