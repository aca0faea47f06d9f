/** `ados tenant move-in`: a tenant of another deployment (a single-region one) moves into this one. */
import type { Command } from 'commander';
import { connectClient } from '../client';
import { placedTenantClient } from '../client/directory';
import { abortMoveIn, moveTenantIn, type MoveInOptions } from '../client/move-in';
import { environment, loadConfig } from '../../infra/config';
import { temporalClient, temporalTarget, withoutConnectionSettings } from '../../infra/temporal-connection';
import { formatUsd } from '../../workflows/domain/pricing/catalog';
import { print } from './output';
import { assertCliId, int, list } from './args';

interface MoveInFlags {
  fromAddress?: string;
  fromNamespace?: string;
  fromProfile?: string;
  region?: string;
  replicas?: string[];
  waitSeconds: number;
  abort?: boolean;
}

/**
 * The settings of the deployment a tenant moves from: its profile in TEMPORAL_CONFIG_FILE (default:
 * the file's default profile), never this deployment's TEMPORAL_ADDRESS, namespace or TLS variables.
 */
function sourceEnvironment(profile: string | undefined): NodeJS.ProcessEnv {
  return { ...withoutConnectionSettings(environment()), ...(profile ? { TEMPORAL_PROFILE: profile } : {}) };
}

export function moveInCommand(tenant: Command): void {
  tenant
    .command('move-in <tenantId>')
    .description(
      'move a tenant of another deployment (e.g. a single-region one) into this one: its new runs there are refused from now on, its runs in flight end there, then its spend, periods, tokens, settings and learning start its entity here',
    )
    .option('--from-address <host:port>', "the other deployment's Temporal frontend (default: its profile's)")
    .option('--from-namespace <namespace>', "the other deployment's namespace (default: its profile's, or 'default')")
    .option(
      '--from-profile <name>',
      "the other deployment's profile in TEMPORAL_CONFIG_FILE (its address, namespace, TLS); this deployment's TEMPORAL_* variables never apply to it",
    )
    .option(
      '--region <region>',
      "in a deployment of regions: the tenant's home region (default: this process's region, ADOS_REGION)",
    )
    .option('--replicas <list>', 'in a deployment of regions: every region that may hold its data, home included', list)
    .option('--wait-seconds <n>', 'how long to wait for its runs in flight there', int('wait seconds', 1, 86_400), 600)
    .option('--abort', 'keep the tenant where it is: its old deployment admits its runs again')
    .action(async (tenantId: string, opts: MoveInFlags) => {
      assertCliId('tenant id', tenantId);
      const fromEnv = sourceEnvironment(opts.fromProfile);
      const from = await temporalClient(
        temporalTarget(
          {
            ...(opts.fromAddress ? { address: opts.fromAddress } : {}),
            ...(opts.fromNamespace ? { namespace: opts.fromNamespace } : {}),
          },
          fromEnv,
        ),
      );
      const to = await placedTenantClient(await connectClient(), tenantId, {
        home: opts.region,
        replicas: opts.replicas,
      });
      if (opts.abort) {
        const standing = await abortMoveIn(from, to, tenantId);
        print(
          { tenantId, aborted: true, holding: standing.holding },
          () => `tenant ${tenantId} stays where it was: its old deployment admits its runs again`,
        );
        return;
      }
      const region = loadConfig().ADOS_REGION;
      const options: MoveInOptions = {
        destination: `${region ? `region ${region}, ` : ''}namespace ${to.options.namespace}`,
        timeoutMs: opts.waitSeconds * 1000,
        onProgress: ({ holding: h }) =>
          process.stderr.write(
            `tenant ${tenantId} closed to new runs in ${from.options.namespace}; waiting for ${h.runsInFlight} runs in flight, ${h.runsWaiting} waiting, ${h.blocks} blocks, ${h.explorations} shadows\n`,
          ),
      };
      const status = await moveTenantIn(from, to, tenantId, options);
      print(
        { tenantId, movedTo: options.destination, status },
        () =>
          `tenant ${tenantId} moved in: ${options.destination} · spent ${formatUsd(status.spentUsd)} of ${formatUsd(status.budgetUsd)} this period · ${status.tokens.filter((t) => !t.revokedAt).length} active tokens`,
      );
    });
}
