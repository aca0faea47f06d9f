/** Reading a workflow's history in tests, through the Temporal CLI. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { findTemporalCli } from '../infra/temporal-cli';
import { KeyRingCodec } from '../infra/payload-codec';
import type { WorkflowHandle } from '@temporalio/client';
import type { NodeOutcome } from '../workflows/domain/run/run-state';

const run = promisify(execFile);

/** A workflow's history as `temporal workflow show --output json` prints it (extra flags e.g. a codec endpoint). */
export async function showHistory(address: string, workflowId: string, extra: string[] = []): Promise<string> {
  const { stdout } = await run(
    findTemporalCli(),
    ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json', ...extra],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

/**
 * A JSON history with every payload's data and metadata base64-decoded: what anyone reading the
 * history could see.
 */
export function readablePayloads(historyJson: string): string {
  return historyJson.replace(
    /"(data|encoding|encryption-key-id|encryption-scope)":\s*"([A-Za-z0-9+/=]+)"/g,
    (_, field: string, b64: string) => `"${field}": ${JSON.stringify(Buffer.from(b64, 'base64').toString('latin1'))}`,
  );
}

/** A payload as stored in history (sealed with the key ring, or plain), read as the JSON value it holds. */
export async function openPayload<T = unknown>(payload: Payload): Promise<T> {
  const [opened] = await new KeyRingCodec().decode([payload]);
  return defaultPayloadConverter.fromPayload<T>(opened!);
}

/** A run's node outcomes as its history records them, by node id. */
export async function nodeOutcomesOf(handle: WorkflowHandle): Promise<Map<string, NodeOutcome>> {
  const outcomes = new Map<string, NodeOutcome>();
  const scheduled = new Map<string, string>();
  for (const event of (await handle.fetchHistory()).events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s?.input?.payloads?.[0]) {
      const task = (await openPayload(s.input.payloads[0])) as { nodeId?: string } | null;
      if (task?.nodeId) scheduled.set(String(event.eventId), task.nodeId);
    }
    const done = event.activityTaskCompletedEventAttributes;
    const nodeId = done ? scheduled.get(String(done.scheduledEventId)) : undefined;
    if (done && nodeId) outcomes.set(nodeId, await openPayload(done.result!.payloads![0]!));
  }
  return outcomes;
}
