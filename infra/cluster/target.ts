/** How a client reaches a cluster: its address, namespace and, with TLS, the client certificate. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { regionKeyRingPath } from './regions/keyrings';
import { temporalTarget, type TemporalTarget } from '../temporal-connection';
import { ensureCerts, tlsEnvironment, type ClusterCerts } from './certs';
import { clusterPaths, type ClusterState } from './layout';

/** The cluster's certificates, when it runs with TLS. */
export function certsOf(state: ClusterState): ClusterCerts | undefined {
  return state.tls ? ensureCerts(state.certsDir ?? clusterPaths(state.dir).certs) : undefined;
}

/** The target a client of this cluster uses: its address, namespace and (with TLS) the client certificate. */
export function clusterTarget(state: ClusterState): TemporalTarget {
  return temporalTarget(
    {},
    { ...clusterEnv(state), TEMPORAL_CONFIG_FILE: join(clusterPaths(state.dir).root, 'no-profile.toml') },
  );
}

/** The environment a process started for this cluster gets: its address, namespace and TLS settings. */
export function clusterEnv(state: ClusterState): Record<string, string> {
  const certs = certsOf(state);
  return {
    TEMPORAL_ADDRESS: `127.0.0.1:${state.ports.frontend}`,
    TEMPORAL_NAMESPACE: state.namespace,
    ...(certs ? tlsEnvironment(certs) : {}),
    // A region's processes know where they run (infra/config.ts: ADOS_REGION).
    ...(state.region ? { ADOS_REGION: state.region.name } : {}),
    // And the region's key ring: the keys of the placements it may hold (./regions/keyrings.ts).
    ...(state.region && existsSync(regionKeyRingPath(state.dir)) ? { ADOS_KEYRING: regionKeyRingPath(state.dir) } : {}),
  };
}
