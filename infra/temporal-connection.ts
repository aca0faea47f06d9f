/** The one way every ADOS process finds and reaches Temporal. */
import { createConnection } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import {
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ClientConfigTLS,
} from '@temporalio/envconfig';
import { UserError } from './user-error';
import { adosDataConverter } from './payload-codec';
import { environment } from './config';

/**
 * The one way every ADOS process (CLI, API, workers, demo, bench, tests) finds and reaches Temporal.
 *
 * Settings come from Temporal's own environment configuration, the same the Temporal CLI reads: the
 * profile named by TEMPORAL_PROFILE (else `default`) of the `temporal.toml` file at
 * TEMPORAL_CONFIG_FILE (else ~/.config/temporalio/temporal.toml), overridden by TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY and TEMPORAL_TLS* variables. An API key turns TLS on, as
 * Temporal Cloud needs. docs/DEPLOYMENT.md lists every setting.
 */
export interface TemporalTarget {
  address: string;
  namespace: string;
  /** The gRPC options both SDK connections take (address, TLS, API key, headers). */
  connectionOptions: {
    address: string;
    tls?: NonNullable<ReturnType<typeof toClientOptions>['connectionOptions']['tls']>;
    apiKey?: string;
    metadata?: Record<string, string>;
  };
  /** How the target reads in logs and errors: address, namespace, and whether mTLS/TLS/API key. */
  summary: string;
}

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
const ADDRESS = /^[^\s/]+:\d{1,5}$/;

/** Where each TLS file came from, so an error can name the setting a person has to fix. */
const TLS_SETTINGS: Array<{ field: keyof ClientConfigTLS; env: string; toml: string }> = [
  { field: 'clientCert', env: 'TEMPORAL_TLS_CLIENT_CERT_PATH', toml: 'tls.client_cert_path' },
  { field: 'clientKey', env: 'TEMPORAL_TLS_CLIENT_KEY_PATH', toml: 'tls.client_key_path' },
  { field: 'serverCACert', env: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', toml: 'tls.server_ca_cert_path' },
];

/**
 * `env` without its Temporal connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, the TLS and
 * profile variables), TEMPORAL_CONFIG_FILE kept: what reaches another deployment than the one these
 * settings name, through a profile of that file or settings given explicitly.
 */
export function withoutConnectionSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([key]) => !key.startsWith('TEMPORAL_') || key === 'TEMPORAL_CONFIG_FILE'),
  );
}

/**
 * Resolves the settings into a target; `overrides` (a command's flags, a harness's own server) win.
 * Throws a UserError (UNAVAILABLE) that names the setting when a profile, address or TLS file is wrong.
 */
export function temporalTarget(
  overrides: { address?: string; namespace?: string } = {},
  env: NodeJS.ProcessEnv = environment(),
): TemporalTarget {
  const vars = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    const file = vars.TEMPORAL_CONFIG_FILE ?? '~/.config/temporalio/temporal.toml';
    throw new UserError(
      `cannot load Temporal profile ${JSON.stringify(vars.TEMPORAL_PROFILE ?? 'default')} from ${file}: ${(err as Error).message} (check TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE)`,
      'UNAVAILABLE',
    );
  }
  const address = overrides.address ?? profile.address ?? DEFAULT_TEMPORAL_ADDRESS;
  if (!ADDRESS.test(address))
    throw new UserError(
      `TEMPORAL_ADDRESS=${JSON.stringify(address)} must be host:port (no scheme), e.g. localhost:7233`,
      'UNAVAILABLE',
    );
  const tls = profile.tls;
  if (tls && !tls.disabled && Boolean(tls.clientCert) !== Boolean(tls.clientKey))
    throw new UserError(
      `a TLS client certificate needs both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH; only ${tls.clientCert ? 'the certificate' : 'the key'} is set`,
      'UNAVAILABLE',
    );
  let options: ReturnType<typeof toClientOptions>;
  try {
    options = toClientOptions({ ...profile, address });
  } catch (err) {
    throw tlsFileError(err, tls, vars);
  }
  const namespace = overrides.namespace ?? options.namespace ?? 'default';
  const connectionOptions: TemporalTarget['connectionOptions'] = { address };
  if (options.connectionOptions.tls) connectionOptions.tls = options.connectionOptions.tls;
  if (profile.apiKey) connectionOptions.apiKey = profile.apiKey;
  if (profile.grpcMeta) connectionOptions.metadata = profile.grpcMeta;
  const mtls = typeof connectionOptions.tls === 'object' && connectionOptions.tls.clientCertPair;
  const security = [mtls ? 'mTLS' : connectionOptions.tls ? 'TLS' : '', profile.apiKey ? 'API key' : '']
    .filter(Boolean)
    .join(', ');
  return {
    address,
    namespace,
    connectionOptions,
    summary: `${address} (namespace ${namespace}${security ? `, ${security}` : ''})`,
  };
}

function tlsFileError(err: unknown, tls: ClientConfigTLS | undefined, vars: Record<string, string>): UserError {
  const code = (err as NodeJS.ErrnoException).code;
  const path = (err as NodeJS.ErrnoException).path;
  const setting = TLS_SETTINGS.find((s) => {
    const source = tls?.[s.field];
    return source && typeof source === 'object' && 'path' in source && source.path === path;
  });
  const name = setting ? (vars[setting.env] === path ? setting.env : `${setting.toml} (profile)`) : 'a TLS setting';
  return new UserError(
    `${name}: cannot read ${path ?? 'the file'} (${code ?? (err as Error).message}); point it at the PEM file`,
    'UNAVAILABLE',
  );
}

/** True if something accepts TCP connections at host:port. */
function listening(address: string, timeoutMs = 1000): Promise<boolean> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = createConnection({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * One line for a failed connection, with what to fix. gRPC reports a refused TLS identity as a closed
 * connection or a timeout, so the cause is told apart by whether the port answers at all and which
 * TLS settings the target has.
 */
export async function unreachable(target: TemporalTarget, err: unknown): Promise<UserError> {
  const message = ((err as Error).message ?? String(err)).replace(/\s+/g, ' ').trim().slice(0, 200);
  const tls = target.connectionOptions.tls;
  const clientCert = typeof tls === 'object' && tls.clientCertPair;
  let hint: string;
  if (!(await listening(target.address)))
    hint = `nothing listens there: start a server (ados dev, or ados cluster up) or fix TEMPORAL_ADDRESS / TEMPORAL_PROFILE`;
  else if (!tls)
    hint = `the server answers but closed the connection: it wants TLS; set TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH and TEMPORAL_TLS_SERVER_CA_CERT_PATH (ados cluster up --tls prints them) or use a TEMPORAL_PROFILE that has them`;
  else if (!clientCert && !target.connectionOptions.apiKey)
    hint = `the TLS handshake failed: the server may require a client certificate (mutual TLS); set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, and TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA`;
  else
    hint = `the TLS handshake failed: check that TEMPORAL_TLS_CLIENT_CERT_PATH is signed by a CA the server trusts, TEMPORAL_TLS_SERVER_CA_CERT_PATH is the CA of the server's certificate, and TEMPORAL_TLS_SERVER_NAME matches it`;
  return new UserError(`cannot reach Temporal at ${target.summary}: ${hint} (${message})`, 'UNAVAILABLE');
}

/**
 * The metadata that keeps a call in the cluster it is made to: a region's frontend forwards calls for
 * a namespace active elsewhere to that region otherwise (all-apis-forwarding).
 */
export const LOCAL_ONLY = { 'xdc-redirection': 'false' } as const;

/** A client connection (for starting, signalling, querying), failing fast with a one-line reason. */
export async function connectTemporal(target: TemporalTarget, { connectTimeoutMs = 5000 } = {}): Promise<Connection> {
  try {
    return await Connection.connect({ ...target.connectionOptions, connectTimeout: connectTimeoutMs });
  } catch (err) {
    throw await unreachable(target, err);
  }
}

/** A client for the target's namespace. */
export async function temporalClient(target: TemporalTarget, options?: { connectTimeoutMs?: number }): Promise<Client> {
  return new Client({
    connection: await connectTemporal(target, options),
    namespace: target.namespace,
    dataConverter: adosDataConverter(),
  });
}

const derived = new WeakMap<Client, Map<string, Client>>();
const baseOf = new WeakMap<Client, Client>();

/**
 * A client of another namespace over `base`'s connection, one per namespace and base: what a
 * process that serves tenants of several namespaces (a region's) starts their runs with. It shares
 * `base`'s settings, such as admitting from blocks (api/client/admission).
 */
export function namespaceClient(base: Client, namespace: string): Client {
  const root = baseClient(base);
  if (namespace === root.options.namespace) return root;
  let clients = derived.get(root);
  if (!clients) derived.set(root, (clients = new Map()));
  let client = clients.get(namespace);
  if (!client) {
    client = new Client({ connection: root.connection, namespace, dataConverter: adosDataConverter() });
    clients.set(namespace, client);
    baseOf.set(client, root);
  }
  return client;
}

/** The client `client` was derived from by namespaceClient, or `client` itself. */
export function baseClient(client: Client): Client {
  return baseOf.get(client) ?? client;
}
