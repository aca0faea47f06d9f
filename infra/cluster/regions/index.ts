/**
 * Regions: one Temporal cluster per region, connected for replication, with a global namespace per
 * placement (./placements.ts); brought up, down and checked (./up.ts), and failed over (./failover.ts).
 */
export { placementNamespace, placementRegions, placementsOf, regionNames, type Placement } from './placements';
export { regionNamespaces } from './served';
export { readRegions } from './state';
export {
  regionsDown,
  regionsStatus,
  regionsUp,
  replicationProbeMs,
  temporaryRegions,
  type NamespacePlacement,
  type RegionsInfo,
  type RegionsStatus,
  type RegionsUpOptions,
} from './up';
export { failoverRegion, type FailoverOptions, type FailoverResult } from './failover';
