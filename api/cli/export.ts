/** `ados export`: writes runs' and tenants' artifact files. */
import type { Command } from 'commander';
import { UserError, connectClient } from '../client';
import { exportFinished } from '../../activities/export/exporter';
import { artifactsRoot } from '../../activities/export/atomic';
import { EXIT, print } from './output';
import { assertCliId } from './args';

/** `ados export`: the artifacts of finished runs. */
export function exportCommand(program: Command): void {
  program
    .command('export')
    .description('write the artifacts of finished runs (and their tenants) under ADOS_ARTIFACTS_DIR; idempotent')
    .option('--tenant <id>', "only this tenant's runs")
    .option('--run <id>', 'only this run (needs --tenant)')
    .option('--force', 'export again runs already exported')
    .action(async (opts: { tenant?: string; run?: string; force?: boolean }) => {
      if (opts.run && !opts.tenant) throw new UserError('--run needs --tenant');
      if (opts.tenant) assertCliId('tenant id', opts.tenant);
      if (opts.run) assertCliId('run id', opts.run);
      const client = await connectClient();
      const force = Boolean(opts.force);
      const outcome = await exportFinished(
        client,
        opts.run ? { tenantId: opts.tenant!, runId: opts.run, force } : { tenantId: opts.tenant, force },
      );
      const exported = outcome.runs.filter((r) => r.exported);
      print({ ...outcome, artifactsDir: artifactsRoot() }, () =>
        [
          `exported ${exported.length} run(s) to ${artifactsRoot()}${outcome.runs.length > exported.length ? `; skipped ${outcome.runs.length - exported.length} (${[...new Set(outcome.runs.filter((r) => !r.exported).map((r) => r.reason))].join(', ')})` : ''}`,
          ...Object.entries(outcome.tenants).map(([t, files]) => `  tenant ${t}: ${files.length} file(s)`),
          ...Object.entries(outcome.tenantErrors).map(([t, error]) => `  tenant ${t}: not exported: ${error}`),
        ].join('\n'),
      );
      if (Object.keys(outcome.tenantErrors).length) process.exitCode = EXIT.ERROR;
    });
}
