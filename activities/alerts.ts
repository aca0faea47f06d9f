/** Budget alert activities: each alert delivered to its webhook, signed, once per alert id. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../infra/config';
import { unseal } from '../infra/seal';
import type { AlertActivities, AlertDelivery } from '../workflows/ports/activities';
import { logger } from '../infra/logging/logger';
import { webhookProblem } from './webhook-target';

/**
 * Budget alert delivery: signed per the Standard Webhooks spec (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`), POSTed as JSON. A receiver that is down, slow or answers 5xx/408/429 is
 * tried again by Temporal (workflows/budget-alert.ts); a 4xx, or an address ADOS may not call, is
 * refused for good.
 */

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
