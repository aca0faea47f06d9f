import { Command } from 'commander';
import { ConfigError } from '../../infra/config';
import { UserError } from '../../infra/user-error';
import { EXIT, json, outputFor } from './output';
import { devCommand } from './dev';
import { clusterCommands } from './cluster';
import { workerCommand } from './worker';
import { tenantCommands } from './tenant';
import { runCommands } from './run';
import { exportCommand } from './export';
import { reportCommand } from './report';
import { replayCommand } from './replay';
import { apiCommands } from './api';
import { benchCommand } from './bench';
import { demoCommand } from './demo';
import { llmCommands } from './llm';
import { k8sCommands } from './k8s';

/** The `ados` command line: one module per command (api/cli/), assembled here. */
export function adosProgram(): Command {
  const program = new Command('ados')
    .description('ADOS — Agentic Delivery OS: multi-tenant AI delivery runs on Temporal')
    .option('--json', 'print machine-readable JSON')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Temporal:    TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default), TEMPORAL_PROFILE, TEMPORAL_API_KEY,
             TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH / _SERVER_CA_CERT_PATH (docs/DEPLOYMENT.md)
Environment: ADOS_ARTIFACTS_DIR (./artifacts), ADOS_NODE_PARTITIONS (4), TEMPORAL_CLI_PATH
Exit codes:  0 ok · 1 error · 2 invalid input · 3 not found · 4 conflict · 5 Temporal unavailable · 6 run did not succeed`,
    );
  outputFor(program);
  devCommand(program);
  clusterCommands(program);
  workerCommand(program);
  tenantCommands(program);
  runCommands(program);
  exportCommand(program);
  reportCommand(program);
  replayCommand(program);
  apiCommands(program);
  benchCommand(program);
  demoCommand(program);
  llmCommands(program);
  k8sCommands(program);
  return program;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof UserError)
    return {
      INVALID_INPUT: EXIT.INVALID,
      NOT_FOUND: EXIT.NOT_FOUND,
      CONFLICT: EXIT.CONFLICT,
      UNAVAILABLE: EXIT.UNAVAILABLE,
    }[err.code];
  if (err instanceof ConfigError) return EXIT.INVALID;
  return EXIT.ERROR;
}

export async function main(argv = process.argv): Promise<void> {
  const program = adosProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (json())
      process.stdout.write(
        `${JSON.stringify({ error: err instanceof UserError ? err.code : 'ERROR', message, ...(err instanceof UserError && err.issues.length ? { issues: err.issues } : {}) })}\n`,
      );
    else process.stderr.write(`ados: ${message}\n`);
    if (program.opts().verbose && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
