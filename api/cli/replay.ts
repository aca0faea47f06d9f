/** `ados replay`: replays recorded histories to check determinism. */
import type { Command } from 'commander';
import { installTemporalLogging } from '../../infra/logging/runtime-logger';
import { historyFiles, replayHistories } from './replay-history';
import { EXIT, print } from './output';

/** `ados replay`: recorded histories against the current workflow code. */
export function replayCommand(program: Command): void {
  program
    .command('replay <paths...>')
    .description('replay recorded histories (files or folders) against the current workflow code')
    .option(
      '--keyring <ring>',
      'the key ring encrypted histories were sealed with: JSON or a file (default ADOS_KEYRING)',
    )
    .action(async (paths: string[], opts: { keyring?: string }) => {
      installTemporalLogging('warn', undefined, 'ERROR');
      if (opts.keyring) process.env.ADOS_KEYRING = opts.keyring;
      const outcomes = await replayHistories(historyFiles(paths));
      print(outcomes, () =>
        outcomes
          .map((o) =>
            o.ok ? `ok    ${o.workflowId}  ${o.file}` : `FAIL  ${o.workflowId}  ${o.file}\n      ${o.error}`,
          )
          .join('\n'),
      );
      if (outcomes.some((o) => !o.ok)) process.exitCode = EXIT.ERROR;
    });
}
