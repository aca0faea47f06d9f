import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { findTemporalCli } from '../../infra/temporal-cli';
import { KeyRingCodec, decodeHistoryJson } from '../../infra/payload-codec';
import { docCommands, docText } from '../../testkit/docs';
import { readablePayloads } from '../../testkit/history';
import { startTestEnv, type TestEnv } from '../../testkit/temporal';
import { runExampleAsUser, spawnAdosWorker, stopChild } from '../../testkit/processes';

const run = promisify(execFile);
const ring = (id: string) => ({ active: id, keys: { [id]: randomBytes(32).toString('base64') } });
/** The shared deployment's ring, and the dedicated tenant's, which nothing of the shared deployment holds. */
const shared = ring('shared-1');
const dedicated = ring('acme-own-1');
process.env.ADOS_KEYRING = JSON.stringify(shared);

let env: TestEnv;
let worker: ChildProcess | undefined;

before(async () => {
  env = await startTestEnv();
});

after(async () => {
  await stopChild(worker);
  await env?.teardown();
});

describe('a tenant with keys of its own, in a namespace of its own', () => {
  test("docs/DEPLOYMENT.md's commands make the namespace; its own workers and ring run it; the shared ring cannot open it", async () => {
    const commands = docCommands(
      docText('docs/DEPLOYMENT.md', '### Tenants that need their own keys: a namespace of their own'),
    );
    assert.equal(commands.length, 7, 'the namespace and its six search attributes');
    for (const args of commands) await run(findTemporalCli(), [...args, '--address', env.address]);

    // Everything of the dedicated deployment runs with its namespace and its ring.
    const dedicatedEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'acme-dedicated',
      ADOS_KEYRING: JSON.stringify(dedicated),
    };
    worker = spawnAdosWorker(dedicatedEnv);
    const outcome = await runExampleAsUser(dedicatedEnv, 'own-keys');
    assert.equal(outcome.status, 'COMPLETED', JSON.stringify(outcome).slice(0, 300));

    // The shared deployment's namespace has no such run; reading the dedicated namespace's history,
    // the shared ring opens nothing, and the tenant's ring opens it all.
    const sharedNamespace = await env.client.workflow
      .getHandle('delivery-run:acme:own-keys')
      .describe()
      .then(
        () => 'found',
        (err: Error) => err.name,
      );
    assert.equal(sharedNamespace, 'WorkflowNotFoundError');
    const raw = new Client({ connection: env.client.connection, namespace: 'acme-dedicated' });
    const history = () =>
      raw.workflow
        .getHandle('delivery-run:acme:own-keys')
        .fetchHistory()
        .then((h) => JSON.parse(historyToJSON(h)) as unknown);
    await assert.rejects(
      decodeHistoryJson(await history(), new KeyRingCodec(shared)),
      /key acme-own-1, which is not in the key ring/,
    );
    type Started = { workflowExecutionStartedEventAttributes?: { input: { payloads: Array<{ data: string }> } } };
    const opened = await decodeHistoryJson((await history()) as { events: Started[] }, new KeyRingCodec(dedicated));
    const input = Buffer.from(
      opened.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!.data,
      'base64',
    ).toString();
    assert.match(input, /"tenantId":"acme"/);
    assert.match(input, /How does ADOS decide whether a run may start/);
    assert.doesNotMatch(readablePayloads(JSON.stringify(await history())), /How does ADOS decide/);
  });
});
