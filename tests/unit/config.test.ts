import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../infra/config';

describe('configuration', () => {
  test('defaults apply, empty variables count as unset, and flags override the environment', () => {
    const config = loadConfig({ ADOS_API_PORT: '', ADOS_NODE_PARTITIONS: '8' }, { ADOS_NODE_PARTITIONS: 2 });
    assert.equal(config.ADOS_API_PORT, 8080);
    assert.equal(config.ADOS_NODE_PARTITIONS, 2);
    assert.equal(config.ADOS_ADMIN_TOKEN, undefined);
  });

  test('every bad value stops start-up with a message naming its variable and value', () => {
    assert.throws(
      () =>
        loadConfig({
          ADOS_API_PORT: '99999',
          ADOS_ADMIN_TOKEN: 'short',
          ADOS_LOG_LEVEL: 'loud',
        }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        for (const part of [
          'ADOS_API_PORT="99999"',
          'ADOS_ADMIN_TOKEN=(hidden): must be at least 16 characters',
          'ADOS_LOG_LEVEL="loud"',
        ]) {
          assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
        }
        assert.ok(!err.message.includes('short'), 'a secret is never echoed');
        return true;
      },
    );
  });
});
