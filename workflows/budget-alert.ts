/** The budgetAlert workflow: delivers one budget alert, retried for a day. */
import { ApplicationFailure, getExternalWorkflowHandle, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { alertSettledSignal } from './messages/tenant-budget';
import type { AlertActivities, AlertDelivery } from './ports/activities';
import { tenantBudgetWorkflowId } from './domain/ids';

/** How long an alert keeps being retried while its receiver is down. */
export const ALERT_DELIVERY_WINDOW = '24h';

const { deliverAlert } = proxyActivities<AlertActivities>({
  startToCloseTimeout: '20s',
  scheduleToCloseTimeout: ALERT_DELIVERY_WINDOW,
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    // A receiver that refuses the alert (4xx) or an address ADOS may not call will not change its mind.
    nonRetryableErrorTypes: ['AlertRefused'],
  },
});

/**
 * One budget alert's delivery (`budget-alert:{alertId}`): the activity signs and POSTs it, Temporal
 * retries it with backoff through receiver downtime and worker restarts for up to a day, and the
 * tenant's entity hears how it ended. The workflow id is the alert's, so an alert is delivered once.
 */
export async function budgetAlert(input: AlertDelivery): Promise<{ status: 'sent' | 'failed'; attempts: number }> {
  let outcome: { status: 'sent' | 'failed'; attempts: number; error?: string };
  try {
    const { attempt } = await deliverAlert(input);
    outcome = { status: 'sent', attempts: attempt };
  } catch (err) {
    // The activity's last failure says which attempt it was.
    const cause = ((err as { cause?: Error }).cause ?? err) as Error & { details?: unknown[] };
    const attempts = (cause.details?.[0] as { attempt?: number } | undefined)?.attempt ?? 0;
    outcome = { status: 'failed', attempts, error: cause.message };
  }
  await getExternalWorkflowHandle(tenantBudgetWorkflowId(input.tenantId)).signal(alertSettledSignal, {
    id: input.id,
    ...outcome,
    at: new Date().toISOString(),
  });
  if (outcome.status === 'failed')
    throw ApplicationFailure.create({
      type: 'AlertNotDelivered',
      message: `alert ${input.id} not delivered to ${new URL(input.webhookUrl).host}: ${outcome.error} (workflow ${workflowInfo().workflowId})`,
      nonRetryable: true,
    });
  return outcome;
}
