import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../infra/config';
import { unseal } from '../infra/seal';
import type { AlertActivities, AlertDelivery } from '../workflows/ports/activities';
import { logger } from '../infra/logging/logger';

/**
 * Budget alert delivery: signed per the Standard Webhooks spec (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`), POSTed as JSON. A receiver that is down, slow or answers 5xx/408/429 is
 * tried again by Temporal (workflows/budget-alert.ts); a 4xx, or an address ADOS may not call, is
 * refused for good.
 */

/** Addresses a webhook may not reach unless ADOS_ALERT_ALLOW_PRIVATE=true: the operator's own network. */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return PRIVATE.check(mapped, 'ipv4');
  return PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Why a webhook URL may not be called, or undefined if it may: not http(s), or a host that is (or
 * resolves to) a private, loopback or link-local address while ADOS_ALERT_ALLOW_PRIVATE is off.
 */
export async function webhookProblem(url: string, allowPrivate: boolean): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an http(s) URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http(s) URL';
  if (parsed.username || parsed.password) return 'must not carry credentials (use the signing secret)';
  if (allowPrivate) return undefined;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    return `host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  const blocked = addresses.find(isPrivateAddress);
  return blocked
    ? `${host} is a private, loopback or link-local address (${blocked}); alerts go to public receivers unless ADOS_ALERT_ALLOW_PRIVATE=true`
    : undefined;
}

export function createAlertActivities(): AlertActivities {
  return {
    async deliverAlert(input: AlertDelivery) {
      const { attempt } = Context.current().info;
      const fail = (message: string, refused: boolean) =>
        ApplicationFailure.create({
          type: refused ? 'AlertRefused' : 'AlertNotTaken',
          message,
          nonRetryable: refused,
          details: [{ attempt }],
        });
      const problem = await webhookProblem(input.webhookUrl, loadConfig().ADOS_ALERT_ALLOW_PRIVATE);
      if (problem) throw fail(`webhookUrl ${problem}`, true);
      // Opened here only, for the signature; never logged, never returned.
      const secret = unseal(input.secretSealed, input.tenantId);
      const body = JSON.stringify(input.body);
      const timestamp = new Date();
      const signature = new Webhook(secret).sign(input.id, timestamp, body);
      const log = logger.child({ tenantId: input.tenantId, alertId: input.id, attempt });
      let response: Response;
      try {
        response = await fetch(input.webhookUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'ados-alerts',
            'webhook-id': input.id,
            'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
            'webhook-signature': signature,
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(10_000), Context.current().cancellationSignal]),
        });
        await response.body?.cancel();
      } catch (err) {
        const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
        const why = cause?.code ?? (err as Error).name;
        log.warn({ error: why }, 'alert not delivered; Temporal retries it');
        throw fail(`receiver unreachable (${why})`, false);
      }
      if (response.ok) {
        log.info({ status: response.status }, 'alert delivered');
        return { status: response.status, attempt };
      }
      const refused = response.status >= 300 && response.status < 500 && ![408, 425, 429].includes(response.status);
      log.warn({ status: response.status, refused }, 'alert not taken');
      throw fail(`receiver answered ${response.status}`, refused);
    },
  };
}
