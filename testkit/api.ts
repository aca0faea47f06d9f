/** An HTTP API on a test server, for tests. */
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { buildApi } from '../api/http/app';
import { createMetrics } from '../infra/metrics/registry';
import { DEFAULT_ADMISSION_BLOCK_SECONDS } from '../infra/config';

/** The HTTP API over a test's client, with the given admin token, only errors logged and a generous rate limit. */
export function testApi(
  client: Client,
  adminToken: string,
  {
    rateLimit = 1_000_000,
    tokenCacheSeconds = 0,
    allowPrivateAlerts = false,
    admissionBlockSeconds = DEFAULT_ADMISSION_BLOCK_SECONDS,
  } = {},
) {
  return buildApi({
    client,
    config: {
      ADOS_ADMIN_TOKEN: adminToken,
      ADOS_API_RATE_LIMIT: rateLimit,
      ADOS_API_BODY_LIMIT: 64 * 1024,
      ADOS_API_TOKEN_CACHE_SECONDS: tokenCacheSeconds,
      ADOS_ARTIFACTS_DIR: process.env.ADOS_ARTIFACTS_DIR!,
      ADOS_ALERT_ALLOW_PRIVATE: allowPrivateAlerts,
      ADOS_ADMISSION_BLOCK_SECONDS: admissionBlockSeconds,
    },
    // A 500 is a defect in any test: its details go to stderr, where the test output keeps them.
    logger: pino({ level: 'error' }, pino.destination(2)),
    metrics: createMetrics(),
  });
}
