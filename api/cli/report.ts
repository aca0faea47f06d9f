/** `ados report`: a tenant's showback report. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { connectClient, tenantReport } from '../client';
import { showbackCsv } from '../../activities/export/showback';
import { json } from './output';
import { assertCliId } from './args';

/** An ISO time from the command line. */
function isoTime(name: string) {
  return (raw: string) => {
    const t = Date.parse(raw);
    if (Number.isNaN(t))
      throw new InvalidArgumentError(`${name} must be a date or time, e.g. 2026-11-01 or 2026-11-01T00:00:00Z`);
    return new Date(t).toISOString();
  };
}

/** `ados report`: showback. */
export function reportCommand(program: Command): void {
  program
    .command('report')
    .description(
      "showback: a tenant's spend by run, node kind, model, category and tag (exports its finished runs first)",
    )
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--from <time>', 'from (default: the start of the current budget period)', isoTime('--from'))
    .option('--to <time>', 'until, exclusive (default: now)', isoTime('--to'))
    .addOption(new Option('--format <format>', 'output').choices(['csv', 'json']).default('csv'))
    .action(async (opts: { tenant: string; from?: string; to?: string; format: 'csv' | 'json' }) => {
      const tenantId = assertCliId('tenant id', opts.tenant);
      const client = await connectClient();
      const report = await tenantReport(client, tenantId, opts);
      await client.connection.close();
      process.stdout.write(
        opts.format === 'json' || json() ? `${JSON.stringify(report, null, 2)}\n` : showbackCsv(report),
      );
    });
}
