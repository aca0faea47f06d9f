/** `ados demo`: the demo on an embedded dev server. */
import { Option, type Command } from 'commander';
import { DEMO_LLMS, runDemo, type DemoLlm } from '../demo/demo';
import { json } from './output';
import { int } from './args';

/** `ados demo`: the main job. */
export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('the main job: three tenants, twenty-four RAG runs with mixed priorities, live progress')
    .option('--once', 'exit at the end (otherwise the server and Web UI stay up until Ctrl-C)')
    .option('--runs <n>', 'number of runs', int('runs', 1, 10_000), 24)
    .addOption(
      new Option('--llm <provider>', 'where answers come from: offline, or local (the real small model on the CPU)')
        .choices(DEMO_LLMS)
        .default('offline'),
    )
    .action(async (opts: { once?: boolean; runs: number; llm: DemoLlm }) => {
      await runDemo({ once: Boolean(opts.once), runs: opts.runs, json: json(), llm: opts.llm });
    });
}
