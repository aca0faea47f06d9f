/** The `ados` command: its commands, loaded on demand. */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../../infra/config';
import { UserError } from '../../infra/user-error';
import { EXIT, json, outputFor } from './output';

type Register = (program: Command) => void;

/**
 * Each command's module, by the top-level names it registers. Loaded on demand: a command loads
 * only its own module (an `ados worker` an autoscaler starts is polling sooner), help loads all.
 */
const COMMANDS: Array<[names: string[], load: () => Register]> = [
  [['dev'], () => (require('./dev') as typeof import('./dev')).devCommand],
  [['cluster'], () => (require('./cluster') as typeof import('./cluster')).clusterCommands],
  [['region'], () => (require('./region') as typeof import('./region')).regionCommands],
  [['worker'], () => (require('./worker') as typeof import('./worker')).workerCommand],
  [['tenant'], () => (require('./tenant') as typeof import('./tenant')).tenantCommands],
  [['run'], () => (require('./run') as typeof import('./run')).runCommands],
  [['export'], () => (require('./export') as typeof import('./export')).exportCommand],
  [['report'], () => (require('./report') as typeof import('./report')).reportCommand],
  [['replay'], () => (require('./replay') as typeof import('./replay')).replayCommand],
  [['api', 'codec-server'], () => (require('./api') as typeof import('./api')).apiCommands],
  [['bench'], () => (require('./bench') as typeof import('./bench')).benchCommand],
  [['demo'], () => (require('./demo') as typeof import('./demo')).demoCommand],
  [['llm'], () => (require('./llm') as typeof import('./llm')).llmCommands],
  [['k8s'], () => (require('./k8s') as typeof import('./k8s')).k8sCommands],
];

/** The `ados` command line: one module per command (api/cli/), assembled here. */
export function adosProgram(argv: readonly string[] = process.argv): Command {
  const program = new Command('ados')
    .description('ADOS — Agentic Delivery OS: multi-tenant AI delivery runs on Temporal')
    .option('--json', 'print machine-readable JSON')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    // A flag or argument commander refuses is invalid input (exit 2, and JSON with --json), as are ours.
    .exitOverride()
    .addHelpText(
      'after',
      `
Temporal:    TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default), TEMPORAL_PROFILE, TEMPORAL_API_KEY,
             TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH / _SERVER_CA_CERT_PATH (docs/DEPLOYMENT.md)
Environment: ADOS_ARTIFACTS_DIR (./artifacts), ADOS_NODE_PARTITIONS (4), TEMPORAL_CLI_PATH
Exit codes:  0 ok · 1 error · 2 invalid input · 3 not found · 4 conflict · 5 Temporal unavailable · 6 run did not succeed`,
    );
  outputFor(program);
  // The command named (the first word after the global flags); none or an unknown one: all of them, for help.
  const named = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const own = COMMANDS.find(([names]) => named !== undefined && names.includes(named));
  for (const [, load] of own ? [own] : COMMANDS) load()(program);
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
  const program = adosProgram(argv);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (help and --version are not errors).
      if (err.exitCode === 0) return;
      if (json()) process.stdout.write(`${JSON.stringify({ error: 'INVALID_INPUT', message: err.message })}\n`);
      process.exitCode = EXIT.INVALID;
      return;
    }
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
