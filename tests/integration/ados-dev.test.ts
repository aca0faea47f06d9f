import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { freePort } from '../../infra/ports';
import { findTemporalCli } from '../../infra/temporal-cli';
import { readablePayloads, showHistory } from '../../testkit/history';
import { ADOS, runExampleAsUser, spawnAdosWorker, stopChild } from '../../testkit/processes';

const run = promisify(execFile);
const children: ChildProcess[] = [];

after(async () => {
  for (const child of children.reverse()) await stopChild(child);
});

/** Starts `ados --json dev …` and resolves with what it prints once the server is up. */
function adosDev(args: string[]): Promise<{
  address: string;
  uiUrl: string;
  codec: { TEMPORAL_CODEC_ENDPOINT: string; TEMPORAL_CODEC_AUTH: string };
}> {
  const child = spawn(process.execPath, [ADOS, '--json', 'dev', ...args], {
    env: { ...process.env, ADOS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        resolve(JSON.parse(out));
      } catch {
        // Not whole yet.
      }
    });
    child.once('exit', (code) => reject(new Error(`ados dev exited with ${code}: ${out}`)));
  });
}

describe('ados dev with payload encryption', () => {
  test('its Web UI is set up with its codec server, and the Temporal CLI reads a run decoded with the variables it prints', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'ados-dev-')), 'dev.db');
    const dev = await adosDev(['--port', String(await freePort()), '--ui-port', String(await freePort()), '--db', db]);
    assert.match(dev.codec.TEMPORAL_CODEC_AUTH, /^Bearer \S{16,}$/);

    // The Web UI's own settings name the codec endpoint, with the token in its path.
    const settings = (await (await fetch(`${dev.uiUrl}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
    assert.equal(
      settings.Codec.Endpoint,
      `${dev.codec.TEMPORAL_CODEC_ENDPOINT}/t/${dev.codec.TEMPORAL_CODEC_AUTH.slice('Bearer '.length)}`,
    );

    const env = { ...process.env, TEMPORAL_ADDRESS: dev.address };
    children.push(spawnAdosWorker(env));
    const outcome = await runExampleAsUser(env, 'via-dev');
    assert.equal(outcome.status, 'COMPLETED');

    const question = /How does ADOS decide whether a run may start/;
    assert.doesNotMatch(readablePayloads(await showHistory(dev.address, 'delivery-run:acme:via-dev')), question);
    const decoded = await run(
      findTemporalCli(),
      ['workflow', 'show', '--address', dev.address, '--workflow-id', 'delivery-run:acme:via-dev', '--output', 'json'],
      { env: { ...process.env, ...dev.codec }, maxBuffer: 64 * 1024 * 1024 },
    );
    assert.match(readablePayloads(decoded.stdout), question);
  });
});
