import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { temporalTarget } from '../../infra/temporal-connection';
import { UserError } from '../../infra/user-error';

const dir = mkdtempSync(join(tmpdir(), 'ados-envconfig-'));
const pem = (name: string) => {
  const file = join(dir, name);
  writeFileSync(file, `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`);
  return file;
};
const toml = join(dir, 'temporal.toml');
writeFileSync(
  toml,
  `[profile.default]
address = "localhost:7233"

[profile.prod]
address = "prod.example:7233"
namespace = "ados-prod"

[profile.prod.tls]
client_cert_path = "${pem('client.pem')}"
client_key_path = "${pem('client.key')}"
server_ca_cert_path = "${pem('ca.pem')}"

[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
api_key = "secret-api-key"
`,
);
const noFile = { TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') };

function refused(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof UserError && err.code === 'UNAVAILABLE', String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    for (const part of parts) assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
    return true;
  });
}

describe('the one connection factory (Temporal environment configuration)', () => {
  test('with nothing set: localhost:7233, namespace default, no TLS', () => {
    const target = temporalTarget({}, noFile);
    assert.equal(target.address, 'localhost:7233');
    assert.equal(target.namespace, 'default');
    assert.equal(target.connectionOptions.tls, undefined);
    assert.equal(target.summary, 'localhost:7233 (namespace default)');
  });

  test('a temporal.toml profile gives address, namespace and mTLS files; variables override it; flags win', () => {
    const prod = temporalTarget({}, { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' });
    assert.equal(prod.address, 'prod.example:7233');
    assert.equal(prod.namespace, 'ados-prod');
    const tls = prod.connectionOptions.tls;
    assert.ok(tls && typeof tls === 'object' && tls.clientCertPair && tls.serverRootCACertificate);
    assert.match(prod.summary, /mTLS/);
    const overridden = temporalTarget(
      {},
      { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'other' },
    );
    assert.equal(overridden.namespace, 'other');
    assert.equal(temporalTarget({ address: '127.0.0.1:9' }, { TEMPORAL_CONFIG_FILE: toml }).address, '127.0.0.1:9');
  });

  test('an API key turns TLS on (Temporal Cloud) and is never shown in the summary', () => {
    const cloud = temporalTarget({}, { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' });
    assert.equal(cloud.connectionOptions.tls, true);
    assert.equal(cloud.connectionOptions.apiKey, 'secret-api-key');
    assert.match(cloud.summary, /TLS, API key/);
    assert.ok(!cloud.summary.includes('secret'));
    const fromEnv = temporalTarget({}, { ...noFile, TEMPORAL_API_KEY: 'k', TEMPORAL_ADDRESS: 'x.tmprl.cloud:7233' });
    assert.equal(fromEnv.connectionOptions.tls, true);
  });

  test('wrong settings are one line naming the setting', () => {
    refused(
      () =>
        temporalTarget(
          {},
          {
            ...noFile,
            TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'missing.pem'),
            TEMPORAL_TLS_CLIENT_KEY_PATH: pem('k'),
          },
        ),
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'missing.pem',
    );
    refused(
      () => temporalTarget({}, { ...noFile, TEMPORAL_TLS_CLIENT_CERT_PATH: pem('only-cert.pem') }),
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
    );
    refused(
      () => temporalTarget({}, { ...noFile, TEMPORAL_ADDRESS: 'http://x:7233' }),
      'TEMPORAL_ADDRESS',
      'host:port',
    );
    refused(
      () => temporalTarget({}, { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'nope' }),
      'TEMPORAL_PROFILE',
      'nope',
    );
    refused(
      () => temporalTarget({}, { ...noFile, TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'no-ca.pem') }),
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    );
  });
});
