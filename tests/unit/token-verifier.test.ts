import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { TokenVerifier, hashToken } from '../../api/http/tokens';

const newToken = (tenantId: string) => `ados.${tenantId}.${randomBytes(32).toString('base64url')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tenant's token store as its entity answers it, counting and slowing the queries. */
function entity(delayMs = 20) {
  const active = new Map<string, Set<string>>();
  const state = { queries: 0, failNext: false };
  return {
    state,
    issue(tenantId: string): string {
      const token = newToken(tenantId);
      if (!active.has(tenantId)) active.set(tenantId, new Set());
      active.get(tenantId)!.add(hashToken(token));
      return token;
    },
    revoke(tenantId: string, token: string): void {
      active.get(tenantId)?.delete(hashToken(token));
    },
    async fetch(tenantId: string): Promise<string[]> {
      state.queries++;
      const snapshot = [...(active.get(tenantId) ?? [])];
      await sleep(delayMs);
      if (state.failNext) {
        state.failNext = false;
        throw new Error('entity unreachable');
      }
      return snapshot;
    },
  };
}

describe('tenant token verification', () => {
  test('fifty requests arriving at once with twenty new tokens cost their entity one query', async () => {
    const store = entity();
    const tokens = Array.from({ length: 20 }, () => store.issue('acme'));
    const verifier = new TokenVerifier((t) => store.fetch(t), 10_000);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => verifier.verify(tokens[i % 20]!)));
    assert.deepEqual(new Set(answers), new Set(['acme']));
    assert.equal(store.state.queries, 1);
    // Within the cache window a known token costs nothing more.
    assert.equal(await verifier.verify(tokens[3]!), 'acme');
    assert.equal(store.state.queries, 1);
  });

  test('a token issued after its tenant was listed is found by a list begun after it was presented', async () => {
    const store = entity();
    const verifier = new TokenVerifier((t) => store.fetch(t), 10_000);
    assert.equal(await verifier.verify(store.issue('acme')), 'acme');
    const fresh = store.issue('acme');
    assert.equal(await verifier.verify(fresh), 'acme');
    assert.equal(store.state.queries, 2);
  });

  test('an invalid token is refused, then refused for the cache window without another query', async () => {
    const store = entity();
    store.issue('acme');
    const verifier = new TokenVerifier((t) => store.fetch(t), 10_000);
    const forged = newToken('acme');
    assert.equal(await verifier.verify(forged), undefined);
    assert.equal(await verifier.verify(forged), undefined);
    assert.equal(store.state.queries, 1);
    assert.equal(await verifier.verify('not-a-token'), undefined);
    assert.equal(store.state.queries, 1);
  });

  test('a revoked token stops working once its list is older than the cache window', async () => {
    const store = entity(5);
    const token = store.issue('acme');
    const verifier = new TokenVerifier((t) => store.fetch(t), 100);
    assert.equal(await verifier.verify(token), 'acme');
    store.revoke('acme', token);
    assert.equal(await verifier.verify(token), 'acme', 'still within the window');
    await sleep(150);
    assert.equal(await verifier.verify(token), undefined);
  });

  test('with no cache, a request arriving while a query runs waits for one begun after it', async () => {
    const store = entity(40);
    const token = store.issue('acme');
    const verifier = new TokenVerifier((t) => store.fetch(t), 0);
    const early = verifier.verify(token);
    await sleep(10);
    store.revoke('acme', token);
    const late = Array.from({ length: 5 }, () => verifier.verify(token));
    assert.equal(await early, 'acme');
    assert.deepEqual(await Promise.all(late), [undefined, undefined, undefined, undefined, undefined]);
    assert.equal(store.state.queries, 2, 'the five late requests share one query');
  });

  test('a failed query fails the requests that waited for it, and the next request asks again', async () => {
    const store = entity();
    const token = store.issue('acme');
    const verifier = new TokenVerifier((t) => store.fetch(t), 10_000);
    store.state.failNext = true;
    await assert.rejects(verifier.verify(token), /entity unreachable/);
    assert.equal(await verifier.verify(token), 'acme');
    assert.equal(store.state.queries, 2);
  });

  test("tenants' lists are separate: one tenant's token is not valid for another", async () => {
    const store = entity();
    const acme = store.issue('acme');
    store.issue('globex');
    const verifier = new TokenVerifier((t) => store.fetch(t), 10_000);
    assert.equal(await verifier.verify(acme), 'acme');
    const spoofed = acme.replace('ados.acme.', 'ados.globex.');
    assert.equal(await verifier.verify(spoofed), undefined);
  });
});
