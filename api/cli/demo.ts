import type { Command } from 'commander';
import { runDemo } from '../../demo/demo';
import { json } from './output';
import { int } from './args';

/** `ados demo`: the main job. */
export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('the main job: three tenants, twenty-four RAG runs with mixed priorities, live progress')
    .option('--once', 'exit at the end (otherwise the server and Web UI stay up until Ctrl-C)')
    .option('--runs <n>', 'number of runs', int('runs', 1, 10_000), 24)
    .action(async (opts: { once?: boolean; runs: number }) => {
      await runDemo({ once: Boolean(opts.once), runs: opts.runs, json: json() });
    });
}
