/** Payload encryption: every payload sealed with the key ring, per tenant. */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import type { SerializationContext } from '@temporalio/common/lib/converter/serialization-context';
import { temporal } from '@temporalio/proto';
import { loadConfig } from './config';
import { keyRing, type KeyRing } from './seal';
import { tenantOfWorkflowId } from '../workflows/domain/ids';

export { tenantOfWorkflowId };

/**
 * Client-side payload encryption: every payload a client or worker sends to Temporal is sealed with
 * AES-256-GCM, so the server (and its database, and anyone reading histories without the key
 * ring) stores only ciphertext. Keys come from the key ring (infra/seal.ts); each payload records
 * the id of the key it was sealed under, so rotation is adding a key and making it active.
 *
 * Per tenant: where the SDK tells the codec which workflow a payload belongs to and its id names a
 * tenant (`delivery-run:{tenant}:…`, `tenant-budget:{tenant}`, …), the payload is sealed with a key
 * derived for that tenant (HKDF of the ring key and the tenant id) and records the tenant; other
 * payloads use the deployment's key.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const utf8 = new TextEncoder();
const text = new TextDecoder();

export class PayloadKeyError extends Error {
  override name = 'PayloadKeyError';
}

function scopeOf(context: SerializationContext | undefined): string {
  return tenantOfWorkflowId(context?.workflowId) ?? '*';
}

/** Derived keys by ring, key id and scope: HKDF once per tenant and key, not once per payload. */
const derived = new WeakMap<KeyRing, Map<string, Buffer>>();

function keyFor(ring: KeyRing, keyId: string, scope: string): Buffer {
  const cache = derived.get(ring) ?? new Map<string, Buffer>();
  derived.set(ring, cache);
  const cached = cache.get(`${keyId}|${scope}`);
  if (cached) return cached;
  const material = ring.keys[keyId];
  if (!material)
    throw new PayloadKeyError(
      `payload sealed under key ${keyId}, which is not in the key ring (ADOS_KEYRING): add it to read this history`,
    );
  const key = Buffer.from(material, 'base64');
  const result =
    scope === '*' ? key : Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `ados-tenant:${scope}`, 32));
  // Bounded: a deployment's tenants times its keys; a ring reloaded is a new map.
  if (cache.size < 100_000) cache.set(`${keyId}|${scope}`, result);
  return result;
}

export class KeyRingCodec implements PayloadCodec {
  /** Without a ring, the process's (ADOS_KEYRING), loaded when a payload first needs it. */
  constructor(private readonly given?: KeyRing) {}

  private get ring(): KeyRing {
    return this.given ?? keyRing();
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const scope = scopeOf(context);
    // A namespace with a key of its own (a placement's, in a deployment of regions) seals under it.
    const keyId = (context?.namespace && this.ring.namespaces?.[context.namespace]) || this.ring.active;
    const key = keyFor(this.ring, keyId, scope);
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(utf8.encode(`${keyId}|${scope}`));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: utf8.encode(ENCRYPTED_ENCODING),
          'encryption-key-id': utf8.encode(keyId),
          'encryption-scope': utf8.encode(scope),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || text.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text.decode(payload.metadata?.['encryption-key-id'] ?? new Uint8Array());
      const scope = text.decode(payload.metadata?.['encryption-scope'] ?? utf8.encode('*'));
      const data = Buffer.from(payload.data ?? new Uint8Array());
      const decipher = createDecipheriv('aes-256-gcm', keyFor(this.ring, keyId, scope), data.subarray(0, 12));
      decipher.setAAD(utf8.encode(`${keyId}|${scope}`));
      decipher.setAuthTag(data.subarray(data.length - 16));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
      } catch {
        throw new PayloadKeyError(
          `a payload sealed under key ${keyId} does not open with it: wrong key material or a tampered payload`,
        );
      }
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** A payload as Temporal's JSON forms carry it (histories, the remote codec protocol): base64 strings. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadFromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

export function payloadToJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

/**
 * A JSON history (as `temporal workflow show --output json` writes it) with every encrypted payload
 * opened and every encoded failure's message and stack trace restored: what the exporter builds its
 * decoded artifacts from. Plain payloads stay as they are; the key ring is loaded only for a history
 * that holds encrypted payloads.
 */
export async function decodeHistoryJson<T>(history: T, codec?: KeyRingCodec): Promise<T> {
  const encrypted = Buffer.from(ENCRYPTED_ENCODING).toString('base64');
  const visit = async (node: unknown): Promise<void> => {
    if (Array.isArray(node)) {
      for (const item of node) await visit(item);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const object = node as Record<string, unknown> & JsonPayload;
    if (object.metadata?.encoding === encrypted && typeof object.data === 'string') {
      codec ??= new KeyRingCodec();
      const [opened] = await codec.decode([payloadFromJson(object)]);
      Object.assign(object, payloadToJson(opened!));
      return;
    }
    for (const value of Object.values(object)) await visit(value);
    restoreFailureText(object);
  };
  await visit(history);
  return history;
}

/** A failure whose message and stack trace travel in its (opened) encoded attributes gets them back. */
function restoreFailureText(failure: Record<string, unknown>): void {
  const attributes = failure.encodedAttributes as JsonPayload | undefined;
  if (!attributes?.data || Buffer.from(attributes.metadata?.encoding ?? '', 'base64').toString() !== 'json/plain')
    return;
  const text = JSON.parse(Buffer.from(attributes.data, 'base64').toString()) as {
    message?: unknown;
    stack_trace?: unknown;
  };
  if (typeof text.message !== 'string') return;
  failure.message = text.message;
  if (typeof text.stack_trace === 'string') failure.stackTrace = text.stack_trace;
  delete failure.encodedAttributes;
}

/**
 * The data converter every ADOS client and worker uses: with ADOS_PAYLOAD_CODEC=aes (the default),
 * payloads are sealed with the key ring and failure messages travel sealed in their encoded
 * attributes (infra/failure-converter.ts); with `none`, both stay plain JSON. The workflow bundle
 * takes the same failure converter (workers/ados-worker.ts).
 */
export function adosDataConverter(): DataConverter {
  return loadConfig().ADOS_PAYLOAD_CODEC === 'aes'
    ? { payloadCodecs: [new KeyRingCodec()], failureConverterPath: require.resolve('./failure-converter') }
    : {};
}
