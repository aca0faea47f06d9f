import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { KeyRingCodec, PayloadKeyError, tenantOfWorkflowId } from '../../infra/payload-codec';

const key = () => randomBytes(32).toString('base64');
const a = key();
const b = key();
const prompt = { prompt: 'the planted prompt: quarterly numbers of acme' };

describe('payload encryption', () => {
  test('sealed with the active key, per tenant where the workflow names one; opened again; rotation keeps old payloads readable', async () => {
    const ringA = new KeyRingCodec({ active: 'a', keys: { a } });
    const [sealed] = await ringA.encode([defaultPayloadConverter.toPayload(prompt)], {
      type: 'workflow',
      namespace: 'default',
      workflowId: 'delivery-run:acme:r-1',
    });
    const meta = (k: string) => new TextDecoder().decode(sealed!.metadata![k]);
    assert.equal(meta('encoding'), 'binary/encrypted');
    assert.equal(meta('encryption-key-id'), 'a');
    assert.equal(meta('encryption-scope'), 'acme');
    assert.ok(!Buffer.from(sealed!.data!).toString('latin1').includes('planted'), 'ciphertext only');
    assert.deepEqual(defaultPayloadConverter.fromPayload((await ringA.decode([sealed!]))[0]!), prompt);

    // Rotation: B is active now; A stays in the ring, so what A sealed still opens.
    const rotated = new KeyRingCodec({ active: 'b', keys: { a, b } });
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([sealed!]))[0]!), prompt);
    const [underB] = await rotated.encode([defaultPayloadConverter.toPayload(prompt)]);
    assert.equal(new TextDecoder().decode(underB!.metadata!['encryption-key-id']), 'b');
    assert.equal(new TextDecoder().decode(underB!.metadata!['encryption-scope']), '*');

    // A ring without the key fails with one line naming it, never garbage.
    await assert.rejects(new KeyRingCodec({ active: 'b', keys: { b } }).decode([sealed!]), (err: Error) => {
      assert.ok(err instanceof PayloadKeyError);
      assert.match(err.message, /^payload sealed under key a, which is not in the key ring \(ADOS_KEYRING\)/);
      return true;
    });
    // The tenant is bound in: the same key under another tenant's name does not open it.
    const moved = {
      ...sealed!,
      metadata: { ...sealed!.metadata, 'encryption-scope': new TextEncoder().encode('globex') },
    };
    await assert.rejects(ringA.decode([moved]), /does not open with it/);
    // Plain payloads (a run started by the Temporal CLI) pass through.
    const plain = defaultPayloadConverter.toPayload({ x: 1 });
    assert.deepEqual(await ringA.decode([plain]), [plain]);
  });

  test('sealing adds about 110 bytes a payload, whatever its size: IV, tag, key id and scope', async () => {
    const codec = new KeyRingCodec({ active: 'a', keys: { a } });
    const size = (p: Payload) => temporal.api.common.v1.Payload.encode(p).finish().length;
    const context = { type: 'workflow' as const, namespace: 'default', workflowId: 'delivery-run:acme:r-1' };
    for (const value of [{ x: 1 }, { prompt: 'y'.repeat(1000) }, { prompt: 'z'.repeat(100_000) }]) {
      const plain = defaultPayloadConverter.toPayload(value);
      const [sealed] = await codec.encode([plain], context);
      // 28 of IV and GCM tag, three metadata entries (encoding, key id "a", scope "acme"), the plain payload's framing.
      const overhead = size(sealed!) - size(plain);
      assert.ok(overhead >= 108 && overhead <= 112, `${overhead} bytes over ${size(plain)}`);
    }
  });

  test('the tenant of each ADOS workflow id', () => {
    assert.equal(tenantOfWorkflowId('delivery-run:acme:r-1'), 'acme');
    assert.equal(tenantOfWorkflowId('tenant-budget:acme'), 'acme');
    assert.equal(tenantOfWorkflowId('shadow-exploration:acme:r-1:generate'), 'acme');
    assert.equal(tenantOfWorkflowId('budget-alert:budget.exceeded:acme:2026-11-01T00:00:00.000Z'), 'acme');
    assert.equal(tenantOfWorkflowId('meta-learning'), undefined);
  });
});
