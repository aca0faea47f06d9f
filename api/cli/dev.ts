/** `ados dev`: an embedded dev server with the Web UI, ADOS workers and the codec server. */
import type { Command } from 'commander';
import { DEFAULT_DB_FILE, startDevServer, temporalAnswers } from '../../infra/dev-server';
import { logger } from '../../infra/logging/logger';
import { loadConfig } from '../../infra/config';
import { temporalClient, temporalTarget } from '../../infra/temporal-connection';
import { localCodecServerIfSealed } from '../servers/codec-server';
import { print } from './output';
import { int, untilStopped } from './args';

/** `ados dev`: the embedded Temporal dev server with its Web UI (and a codec server when payloads are sealed). */
export function devCommand(program: Command): void {
  program
    .command('dev')
    .description('run the embedded Temporal dev server with the Web UI (persistent SQLite under .temporal/)')
    .option('--port <port>', 'gRPC port', int('port', 1, 65535), 7233)
    .option('--ui-port <port>', 'Web UI port', int('ui port', 1, 65535), 8233)
    .option('--db <file>', 'SQLite file', DEFAULT_DB_FILE)
    .action(async (opts: { port: number; uiPort: number; db: string }) => {
      const address = `127.0.0.1:${opts.port}`;
      if (await temporalAnswers(address)) {
        print({ address, started: false }, () => `a Temporal server already answers at ${address}; using it`);
        return;
      }
      const config = loadConfig();
      // With payload encryption on, a codec server beside the dev server lets its Web UI and the Temporal CLI read runs.
      const codec = await localCodecServerIfSealed(logger);
      const server = await startDevServer({
        port: opts.port,
        uiPort: opts.uiPort,
        dbFile: opts.db,
        uiCodecEndpoint: codec?.uiEndpoint,
      });
      const client = codec && (await temporalClient(temporalTarget({ address: server.address })));
      const stopCodec = codec && client && (await codec.serve(client, server.uiUrl ?? config.ADOS_WEB_UI_URL));
      print(
        { address: server.address, uiUrl: server.uiUrl, db: opts.db, started: true, codec: codec?.shownCliEnv },
        () =>
          `Temporal dev server at ${server.address} · Web UI ${server.uiUrl} · state in ${opts.db}` +
          (codec
            ? `\npayloads are encrypted; the Web UI decodes them through the codec server at ${codec.url}; for the Temporal CLI:\n` +
              `  export ${Object.entries(codec.shownCliEnv)
                .map(([k, v]) => `${k}="${v}"`)
                .join(' ')}`
            : '') +
          '\nCtrl-C to stop',
      );
      await untilStopped();
      await stopCodec?.();
      await client?.connection.close();
      await server.stop();
    });
}
