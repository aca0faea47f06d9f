import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { findTemporalCli } from '../../infra/temporal-cli';
import { KeyRingCodec } from '../../infra/payload-codec';

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
