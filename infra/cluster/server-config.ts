/** Temporal Server's and the Web UI's configuration files for a local cluster. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PG_USER } from './postgres';
import { FAILOVER_VERSION_INCREMENT, clusterPaths, type ClusterState } from './layout';
import type { ClusterCerts } from './certs';

/**
 * Temporal Server's static config for one machine: all four services in one process, PostgreSQL
 * persistence and SQL visibility, `shards` history shards (fixed once the cluster first starts),
 * and with `certs` mutual TLS on the frontend (the system worker presents its own client certificate).
 */
export function writeServerConfig(state: ClusterState, certs?: ClusterCerts): void {
  const paths = clusterPaths(state.dir);
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${state.ports.postgres}`,
      connectProtocol: 'tcp',
      user: PG_USER,
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1', ...extra },
  });
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: state.shards,
      datastores: { 'postgres-default': sql('temporal', 40), 'postgres-visibility': sql('temporal_visibility', 10) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: {
        prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${state.ports.metrics}` },
      },
      ...(certs
        ? {
            tls: {
              frontend: {
                server: {
                  certFile: certs.serverCert,
                  keyFile: certs.serverKey,
                  requireClientAuth: true,
                  clientCaFiles: [certs.caCert],
                },
                client: { serverName: certs.serverName, rootCaFiles: [certs.caCert] },
              },
              systemWorker: {
                certFile: certs.clientCert,
                keyFile: certs.clientKey,
                client: { serverName: certs.serverName, rootCaFiles: [certs.caCert] },
              },
              // Replication to and from the other regions: this cluster calls their frontends with the
              // client certificate of the deployment's CA (keyed by their host).
              ...(state.region
                ? {
                    remoteClusters: {
                      '127.0.0.1': {
                        server: { certFile: certs.clientCert, keyFile: certs.clientKey, requireClientAuth: true },
                        client: { serverName: certs.serverName, rootCaFiles: [certs.caCert] },
                      },
                    },
                  }
                : {}),
            },
          }
        : {}),
    },
    services: {
      frontend: service(state.ports.frontend, state.ports.frontendMembership, { httpPort: state.ports.frontendHttp }),
      history: service(state.ports.history, state.ports.historyMembership),
      matching: service(state.ports.matching, state.ports.matchingMembership),
      worker: service(state.ports.worker, state.ports.workerMembership),
    },
    ...clusterMetadata(state),
    dynamicConfigClient: { filepath: paths.dynamicConfig, pollInterval: '10s' },
  };
  writeFileSync(paths.config, stringify(config));
  writeFileSync(paths.dynamicConfig, stringify(dynamicConfig(state)));
}

/**
 * Who the cluster is among its peers. Alone: one cluster, `active`, with local namespaces. As a
 * region: its own cluster name and failover version, global namespaces on, and calls a standby
 * receives for a namespace active elsewhere forwarded to the active region (updates included).
 * Peers are connected after start (`temporal operator cluster upsert`; infra/cluster/regions.ts).
 */
function clusterMetadata(state: ClusterState): Record<string, unknown> {
  const name = state.region?.name ?? 'active';
  return {
    clusterMetadata: {
      enableGlobalNamespace: Boolean(state.region),
      failoverVersionIncrement: FAILOVER_VERSION_INCREMENT,
      masterClusterName: name,
      currentClusterName: name,
      clusterInformation: {
        [name]: {
          enabled: true,
          initialFailoverVersion: state.region?.initialFailoverVersion ?? 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${state.ports.frontend}`,
          httpAddress: `127.0.0.1:${state.ports.frontendHttp}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: state.region ? 'all-apis-forwarding' : 'noop' },
  };
}

/**
 * What ADOS relies on beyond the defaults: fairness between a tenant's runs in matching, as on the
 * dev server. (`ados cluster up` waits until a run is listable by TenantId before it says the
 * cluster is ready, rather than have the server refresh its search attributes on every read.)
 */
function dynamicConfig(state: ClusterState): Record<string, Array<{ value: unknown }>> {
  return {
    'matching.enableFairness': [{ value: true }],
    // A region learns of a peer just connected within seconds, not the default minute, so that
    // namespaces naming it can be registered right after `ados cluster up --regions` connects them.
    // A failover changes a namespace's active region in the database; each service learns of it at
    // its next namespace refresh (default every 10 s), which would add up to 10 s to every handover
    // and to the time until the new region runs anything. Temporal's own replication tests use 1 s.
    ...(state.region
      ? {
          'system.clusterMetadataRefreshInterval': [{ value: '5s' }],
          'system.namespaceCacheRefreshInterval': [{ value: '1s' }],
        }
      : {}),
  };
}

/** The Web UI server's config (a directory holding `<env>.yaml`, as ui-server reads it). */
export function writeUiConfig(state: ClusterState, certs?: ClusterCerts): void {
  const paths = clusterPaths(state.dir);
  const config = {
    temporalGrpcAddress: `127.0.0.1:${state.ports.frontend}`,
    host: '127.0.0.1',
    port: state.ports.ui,
    enableUi: true,
    defaultNamespace: state.namespace,
    hideLogs: true,
    disableNewsFetch: true,
    ...(certs
      ? {
          tls: {
            caFile: certs.caCert,
            certFile: certs.clientCert,
            keyFile: certs.clientKey,
            serverName: certs.serverName,
            enableHostVerification: true,
          },
        }
      : {}),
  };
  writeFileSync(join(paths.uiConfigDir, 'cluster.yaml'), stringify(config));
}
