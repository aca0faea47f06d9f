/** The key ring, and sealing secrets with AES-256-GCM. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from './config';
import { UserError } from './user-error';

/**
 * Secrets ADOS must keep (alert signing secrets) are sealed with AES-256-GCM before they reach
 * Temporal, so history, the database and every export hold only ciphertext. Keys come from a key
 * ring: ADOS_KEYRING, as JSON or the path of a JSON file, `{ "active": "k2", "keys": { "k1": "<base64
 * of 32 bytes>", "k2": "…" } }`. Each sealed value names its key, so rotating is adding a key and
 * making it active: values sealed under the old one stay readable while it stays in the ring. A
 * ring may also name, per namespace, the key that namespace's payloads are sealed under
 * (`"namespaces": { "ados-eu": "eu-1" }`): the per-region rings of `ados cluster up --regions`.
 *
 * Without ADOS_KEYRING, a development key ring is generated once at ~/.ados/keyring.json (mode
 * 0600), which serves every ADOS process of this user on this machine; a deployment on several
 * machines gives them all the same ADOS_KEYRING.
 */

const PREFIX = 'sealed:v1';

const keyRingSchema = z
  .object({
    active: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a key id of letters, digits, _ . -'),
    keys: z.record(
      z.string(),
      z
        .string()
        .refine(
          (k) => Buffer.from(k, 'base64').length === 32,
          'each key is 32 bytes in base64 (openssl rand -base64 32)',
        ),
    ),
    /**
     * In a deployment of regions: the key payloads of each namespace are sealed under, instead of
     * `active` (`ados cluster up --regions` gives each placement's namespace a key, and each region
     * a ring holding only the keys of the placements it may hold).
     */
    namespaces: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .refine((ring) => ring.active in ring.keys, { message: 'the active key id must be one of keys' })
  .refine((ring) => Object.values(ring.namespaces ?? {}).every((id) => id in ring.keys), {
    message: "each namespace's key id must be one of keys",
  });

export type KeyRing = z.output<typeof keyRingSchema>;

export function devKeyRingPath(): string {
  return join(homedir(), '.ados', 'keyring.json');
}

let loaded: { source: string; ring: KeyRing } | undefined;

/** The key ring of this process: ADOS_KEYRING, or the development ring (made on first use). */
export function keyRing(): KeyRing {
  const setting = loadConfig().ADOS_KEYRING;
  const source = setting ?? devKeyRingPath();
  if (loaded?.source === source) return loaded.ring;
  let text: string;
  if (setting?.trimStart().startsWith('{')) text = setting;
  else {
    if (!setting && !existsSync(source)) {
      mkdirSync(dirname(source), { recursive: true, mode: 0o700 });
      // A key id of its own: history sealed under another machine's (or a deleted) ring names a key this one lacks.
      const id = `dev-${randomBytes(4).toString('hex')}`;
      const ring: KeyRing = { active: id, keys: { [id]: randomBytes(32).toString('base64') } };
      // Written whole, then linked into place: processes starting together all end up with the first ring.
      const draft = `${source}.${process.pid}.draft`;
      writeFileSync(draft, JSON.stringify(ring, null, 2), { mode: 0o600 });
      chmodSync(draft, 0o600);
      try {
        linkSync(draft, source);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        unlinkSync(draft);
      }
    }
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new UserError(`ADOS_KEYRING: cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(
      `ADOS_KEYRING${setting ? '' : ` (${source})`} is not JSON: { "active": "k1", "keys": { "k1": "<base64 of 32 bytes>" } }`,
    );
  }
  const result = keyRingSchema.safeParse(parsed);
  if (!result.success)
    throw new UserError(
      `ADOS_KEYRING${setting ? '' : ` (${source})`}: ${result.error.issues.map((i) => `${i.path.join('.') || 'ring'}: ${i.message}`).join('; ')}`,
    );
  loaded = { source, ring: result.data };
  return result.data;
}

/** `sealed:v1:<keyId>:<iv>:<ciphertext>:<tag>`, base64url parts; `context` is bound in (e.g. the tenant id). */
export function seal(plaintext: string, context: string, ring: KeyRing = keyRing()): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(ring.keys[ring.active]!, 'base64'), iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [
    PREFIX,
    ring.active,
    iv.toString('base64url'),
    body.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ].join(':');
}

export class SealError extends Error {
  override name = 'SealError';
}

export function isSealed(value: string): boolean {
  return value.startsWith(`${PREFIX}:`);
}

/** The plaintext of a sealed value; a missing key or a tampered value fails with one line naming the key id. */
export function unseal(sealed: string, context: string, ring: KeyRing = keyRing()): string {
  const parts = sealed.split(':');
  if (parts.length !== 6 || `${parts[0]}:${parts[1]}` !== PREFIX) throw new SealError('not a sealed value');
  const [, , keyId, iv, body, tag] = parts as [string, string, string, string, string, string];
  const key = ring.keys[keyId];
  if (!key)
    throw new SealError(`key ${keyId} is not in the key ring (ADOS_KEYRING); add it to read values sealed under it`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key, 'base64'), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SealError(
      `a value sealed under key ${keyId} does not open with it: wrong key material or a tampered value`,
    );
  }
}
