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

test('a flag value commander refuses is invalid input too: exit 2, the flag named, JSON with --json', () => {
  const negative = ados('worker', '--drain-seconds', '-1');
  assert.equal(negative.code, 2, negative.stderr);
  assert.match(negative.stderr, /--drain-seconds <seconds>' argument '-1' is invalid/);

  const result = spawnSync(process.execPath, [ADOS, '--json', 'worker', '--concurrency', '0'], { encoding: 'utf8' });
  assert.equal(result.status, 2);
  const body = JSON.parse(result.stdout) as { error: string; message: string };
  assert.equal(body.error, 'INVALID_INPUT');
  assert.match(body.message, /concurrency must be an integer from 1 to 10000/);

  const unknown = ados('worker', '--drain', '5');
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /unknown option '--drain'/);
});

test('ados worker --namespaces region needs a region, and stands alone', () => {
  const outside = ados('worker', '--namespaces', 'region');
  assert.equal(outside.code, 2, outside.stderr);
  assert.match(outside.stderr, /--namespaces region: this process is in no region; set ADOS_REGION/);
  const mixed = ados('worker', '--namespaces', 'ados-eu,region');
  assert.equal(mixed.code, 2, mixed.stderr);
  assert.match(mixed.stderr, /--namespaces region stands alone/);
});
