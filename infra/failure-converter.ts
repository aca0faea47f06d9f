/** Failure messages sealed with payloads: the failure converter every client and worker uses. */
import { DefaultFailureConverter } from '@temporalio/common';

/**
 * With payloads sealed, failure messages and stack traces are moved into the failure's encoded
 * attributes (a payload, so the codec seals it too) instead of standing in history as plain text:
 * an error can quote tenant data (a provider's answer, a prompt, a budget figure). History shows
 * "Encoded failure"; clients, workers, the exporter and the codec server restore the text.
 * Loaded by path (DataConverter.failureConverterPath) in the workers' main thread, in clients, and
 * bundled into the workflow sandbox, where workflow failures are converted.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
