import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');

/** `ados …` with no Temporal to reach: these must fail on their flags, before connecting. */
function ados(...args: string[]) {
  const result = spawnSync(process.execPath, [ADOS, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    timeout: 30_000,
  });
  return { code: result.status, stderr: result.stderr };
}

test('ados worker refuses autoscaling flags that cannot work, naming the flag, with exit 2 (invalid input)', () => {
  const withoutAutoscale = ados('worker', '--role', 'nodes', '--control-metrics', 'http://127.0.0.1:9464/metrics');
  assert.equal(withoutAutoscale.code, 2, withoutAutoscale.stderr);
  assert.match(withoutAutoscale.stderr, /--control-metrics is what --autoscale follows: add --autoscale MIN\.\.MAX/);

  const notAUrl = ados('worker', '--role', 'nodes', '--autoscale', '1..2', '--control-metrics', 'ctl:9464');
  assert.equal(notAUrl.code, 2, notAUrl.stderr);
  assert.match(notAUrl.stderr, /--control-metrics: "ctl:9464" is not an http\(s\) URL/);

  const badRange = ados('worker', '--role', 'nodes', '--autoscale', '3..2');
  assert.equal(badRange.code, 2, badRange.stderr);
  assert.match(badRange.stderr, /MAX \(2\) must be at least MIN \(3\)/);
});
