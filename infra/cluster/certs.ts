/** The cluster's certificates for mTLS. */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../user-error';

/**
 * A private CA, a server certificate for the frontend (valid for localhost and 127.0.0.1) and one
 * client certificate, made with openssl under the cluster's directory. Enough for mutual TLS on one
 * machine; a production cluster uses certificates from the operator's own CA (docs/DEPLOYMENT.md).
 */
export interface ClusterCerts {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The name clients check the server's certificate against. */
  serverName: string;
}

export const SERVER_NAME = 'localhost';
const DAYS = '825';

export function certPaths(dir: string): ClusterCerts {
  return {
    caCert: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    serverName: SERVER_NAME,
  };
}

function openssl(args: string[], what: string): void {
  const run = spawnSync('openssl', args, { encoding: 'utf8', timeout: 60_000 });
  if (run.error)
    throw new UserError(
      `openssl not found: ados cluster up --tls makes its certificates with it (apt-get install openssl)`,
    );
  if (run.status !== 0)
    throw new UserError(`openssl failed making the ${what}: ${run.stderr.trim().split('\n').slice(-1)[0]}`);
}

/** Makes the certificates once; existing ones are kept, so clients configured earlier keep working. */
export function ensureCerts(dir: string): ClusterCerts {
  const certs = certPaths(dir);
  if ([certs.caCert, certs.serverCert, certs.serverKey, certs.clientCert, certs.clientKey].every((f) => existsSync(f)))
    return certs;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey], 'CA key');
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-sha256',
      '-days',
      DAYS,
      '-subj',
      '/O=ADOS local cluster/CN=ADOS local CA',
      '-out',
      certs.caCert,
    ],
    'CA certificate',
  );
  const issue = (name: 'server' | 'client', cert: string, key: string, ext: string) => {
    const csr = join(dir, `${name}.csr`);
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], `${name} key`);
    openssl(
      ['req', '-new', '-key', key, '-subj', `/O=ADOS local cluster/CN=ados-${name}`, '-out', csr],
      `${name} request`,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        certs.caCert,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-days',
        DAYS,
        '-sha256',
        '-extfile',
        extFile,
        '-out',
        cert,
      ],
      `${name} certificate`,
    );
    chmodSync(key, 0o600);
  };
  issue(
    'server',
    certs.serverCert,
    certs.serverKey,
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  issue(
    'client',
    certs.clientCert,
    certs.clientKey,
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  return certs;
}

/** The variables a client (ADOS or the Temporal CLI) needs for this cluster's mutual TLS. */
export function tlsEnvironment(certs: ClusterCerts): Record<string, string> {
  return {
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
    TEMPORAL_TLS_SERVER_NAME: certs.serverName,
  };
}
