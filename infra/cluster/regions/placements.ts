/** Placements: where a tenant lives (its home region and the regions its data may be copied to), and their namespaces. */
import { REGION_NAME } from '../../config';
import { UserError } from '../../user-error';
import type { Placement } from '../../../workflows/domain/tenant/placement';
import { DIRECTORY_NAMESPACE } from '../../../workflows/domain/ids';

const MAX_REGIONS = 4;
/** `ados-directory` is the directory's namespace (workflows/domain/ids.ts), so no region has that name. */
const RESERVED = DIRECTORY_NAMESPACE.slice('ados-'.length);

export { placementNamespace, type Placement } from '../../../workflows/domain/tenant/placement';

/** The regions of a placement namespace's name (`ados-eu-us` → eu, us), or undefined for any other name. */
export function placementRegions(namespace: string): string[] | undefined {
  if (namespace === DIRECTORY_NAMESPACE) return undefined;
  const [prefix, ...regions] = namespace.split('-');
  if (prefix !== 'ados' || regions.length === 0 || regions.length > MAX_REGIONS) return undefined;
  if (!regions.every((r) => REGION_NAME.test(r)) || new Set(regions).size !== regions.length) return undefined;
  return regions;
}

/** Every placement a deployment of these regions offers: each non-empty set of regions, with each of them as home. */
export function placementsOf(regions: readonly string[]): Placement[] {
  const placements: Placement[] = [];
  for (let mask = 1; mask < 1 << regions.length; mask++) {
    const members = regions.filter((_, i) => mask & (1 << i));
    for (const home of members) placements.push({ home, regions: [home, ...members.filter((r) => r !== home)] });
  }
  return placements.sort((a, b) => a.regions.length - b.regions.length);
}

/** The names `--regions` was given, checked: at least two, distinct, lower-case letters and digits. */
export function regionNames(list: string): string[] {
  const names = list
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !REGION_NAME.test(n));
  if (bad.length)
    throw new UserError(
      `region names are a lower-case letter then up to 11 letters or digits (got ${bad.map((n) => JSON.stringify(n)).join(', ')})`,
      'INVALID_INPUT',
    );
  if (names.includes(RESERVED))
    throw new UserError(`--regions: "${RESERVED}" names ADOS's directory namespace, not a region`, 'INVALID_INPUT');
  if (new Set(names).size !== names.length)
    throw new UserError(`--regions names a region twice: ${list}`, 'INVALID_INPUT');
  if (names.length < 2 || names.length > MAX_REGIONS)
    throw new UserError(
      `--regions takes 2 to ${MAX_REGIONS} regions (got ${names.length}); one region is a plain \`ados cluster up\``,
      'INVALID_INPUT',
    );
  return names;
}
