/** Where a tenant lives in a deployment of several regions: its home and every region that holds its data. */

/** A tenant's home region (active while it serves) and every region that holds its data, home first. */
export interface Placement {
  home: string;
  regions: string[];
}

/** The namespace of a placement: `ados-{home}` for a pinned tenant, `ados-{home}-{other}…` with copies (others in the deployment's order). */
export function placementNamespace(placement: Placement): string {
  return ['ados', ...placement.regions].join('-');
}

/** "eu" for a pinned tenant, "eu (copies in us, ap)" for one with copies. */
export function describePlacement(placement: Placement): string {
  const copies = placement.regions.filter((r) => r !== placement.home);
  return copies.length ? `${placement.home} (copies in ${copies.join(', ')})` : `${placement.home} only`;
}

/** True when both name the same home and the same regions, whatever the order of the copies. */
export function samePlacement(a: Placement, b: Placement): boolean {
  return a.home === b.home && a.regions.length === b.regions.length && a.regions.every((r) => b.regions.includes(r));
}
