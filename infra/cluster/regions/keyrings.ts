/** Each region's key ring: the keys of the placements whose data it may hold, and no other's. */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIRECTORY_NAMESPACE } from '../../../workflows/domain/ids';
import { keyRing, type KeyRing } from '../../seal';
import { placementNamespace, placementsOf } from './placements';

/** Where a region's key ring is (its processes get it as ADOS_KEYRING). */
export function regionKeyRingPath(regionDir: string): string {
  return join(regionDir, 'keyring.json');
}

/**
 * Writes each region's key ring, once (an `up` again keeps them: payloads sealed under their keys
 * stay readable). Each placement's namespace, and the directory, gets a key of its own; a region's
 * ring holds the keys of the namespaces it holds a copy of, and names each as that namespace's
 * sealing key. A region outside a placement cannot open that placement's payloads, even handed a
 * history of them. The ring of the process that brings the regions up (ADOS_KEYRING, or the
 * development ring) is in every region's too, as the key of whatever names no namespace of its own.
 */
export function writeRegionKeyRings(regions: string[], regionDir: (region: string) => string): void {
  if (regions.every((r) => existsSync(regionKeyRingPath(regionDir(r))))) return;
  const base = keyRing();
  const namespaces = [
    ...placementsOf(regions).map((p) => ({ namespace: placementNamespace(p), regions: p.regions })),
    { namespace: DIRECTORY_NAMESPACE, regions },
  ].map((n) => ({
    ...n,
    keyId: `${n.namespace}-${randomBytes(4).toString('hex')}`,
    key: randomBytes(32).toString('base64'),
  }));
  for (const region of regions) {
    const held = namespaces.filter((n) => n.regions.includes(region));
    const ring: KeyRing = {
      active: base.active,
      keys: { ...base.keys, ...Object.fromEntries(held.map((n) => [n.keyId, n.key])) },
      namespaces: Object.fromEntries(held.map((n) => [n.namespace, n.keyId])),
    };
    mkdirSync(regionDir(region), { recursive: true });
    const path = regionKeyRingPath(regionDir(region));
    writeFileSync(path, `${JSON.stringify(ring, null, 2)}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
  }
}
