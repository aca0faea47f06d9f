/** `ados api`: the HTTP API server command. */
import type { Command } from 'commander';
import { logger } from '../../infra/logging/logger';
import { connectClient } from '../client';
import { environment, loadConfig } from '../../infra/config';
import { buildApi } from '../http/app';
import { CODEC_SERVER_PORT, buildCodecServer } from '../servers/codec-server';
import { createMetrics } from '../../infra/metrics/registry';
import { print } from './output';
import { int, untilStopped } from './args';

/** `ados api` and `ados codec-server`: the HTTP servers. */
export function apiCommands(program: Command): void {
  program
    .command('api')
    .description('serve the HTTP API (OpenAPI at /docs, Prometheus at /metrics, liveness at /healthz)')
    .option('--port <port>', 'port (default ADOS_API_PORT or 8080)', int('port', 0, 65535))
    .option('--host <host>', 'interface to listen on (default ADOS_API_HOST or 127.0.0.1)')
    .action(async (opts: { port?: number; host?: string }) => {
      const config = loadConfig(environment(), { ADOS_API_PORT: opts.port, ADOS_API_HOST: opts.host });
      if (!config.ADOS_ADMIN_TOKEN)
        logger.warn('ADOS_ADMIN_TOKEN is not set: tenants cannot be created or given tokens through the API');
      const client = await connectClient();
      const app = await buildApi({ client, config, logger, metrics: createMetrics() });
      const url = await app.listen({ port: config.ADOS_API_PORT, host: config.ADOS_API_HOST });
      print({ url, docs: `${url}/docs` }, () => `ADOS API at ${url} · OpenAPI ${url}/docs · Ctrl-C to stop`);
      await untilStopped();
      await app.close();
      await client.connection.close();
    });

  program
    .command('codec-server')
    .description(
      'decode and encode payloads for the Web UI and the Temporal CLI (--codec-endpoint) with the key ring; needs the admin token or a tenant token',
    )
    .option('--port <port>', 'port', int('port', 0, 65535), CODEC_SERVER_PORT)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--cors-origin <url>', "the Web UI's origin (default ADOS_WEB_UI_URL)")
    .action(async (opts: { port: number; host: string; corsOrigin?: string }) => {
      const config = loadConfig();
      const client = await connectClient();
      const app = await buildCodecServer({
        client,
        adminToken: config.ADOS_ADMIN_TOKEN,
        corsOrigin: opts.corsOrigin ?? config.ADOS_WEB_UI_URL,
        logger,
        tokenCacheMs: config.ADOS_API_TOKEN_CACHE_SECONDS * 1000,
      });
      const url = await app.listen({ port: opts.port, host: opts.host });
      print(
        { url },
        () =>
          `ADOS codec server at ${url} · temporal workflow show --codec-endpoint ${url} --codec-auth "Bearer <token>" · Ctrl-C to stop`,
      );
      await untilStopped();
      await app.close();
      await client.connection.close();
    });
}
