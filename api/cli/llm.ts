/** `ados llm install|serve`: the local model. */
import type { Command } from 'commander';
import { logger } from '../../infra/logging/logger';
import { ensureLocalModel, LOCAL_MODEL } from '../../infra/llm/local-model';
import { buildLlmServer } from '../servers/llm-server';
import { LocalLlm } from '../../activities/nodes/local-llm';
import { print } from './output';
import { int, untilStopped } from './args';

/** `ados llm`: the local model (install, serve). */
export function llmCommands(program: Command): void {
  const llm = program.command('llm').description(`the local model (${LOCAL_MODEL}, on the CPU)`);
  llm
    .command('install')
    .description('fetch the model into its cache (what `npm run llm:install` does)')
    .action(() => {
      const path = ensureLocalModel();
      print({ model: LOCAL_MODEL, path }, () => `${LOCAL_MODEL}: ${path}`);
    });
  llm
    .command('serve')
    .description('serve the model as an OpenAI-compatible /v1/chat/completions with real token usage')
    .option('--port <port>', 'port', int('port', 0, 65535), 8089)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .action(async (opts: { port: number; host: string }) => {
      await LocalLlm.get();
      const app = await buildLlmServer({ logger });
      const url = await app.listen({ port: opts.port, host: opts.host });
      print(
        { url: `${url}/v1`, model: LOCAL_MODEL },
        () => `${LOCAL_MODEL} at ${url}/v1 (OpenAI-compatible) · OPENAI_BASE_URL=${url}/v1 · Ctrl-C to stop`,
      );
      await untilStopped();
      await app.close();
    });
}
