/**
 * Admission by the tenant's entity, batched: the runs a process starts for a tenant while its
 * `admitRuns` updates are on their way join the next one.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { admitRunsUpdate, MAX_ADMISSIONS_PER_UPDATE } from '../../../workflows/messages/tenant-budget';
import { tenantBudgetWorkflowId } from '../../../workflows/domain/ids';
import type { AdmissionRequest, AdmissionTicket } from '../../../workflows/domain/tenant/entity-payloads';
import { updateAskingAgain } from '../entity-update';

/**
 * How long a starter waits for its tenant's admission answer before starting the run without a
 * ticket (the run then asks by signal). The entity answers within milliseconds while a worker
 * serves ados-entities.
 */
export const ADMISSION_TIMEOUT_MS = 5_000;

interface Pending {
  request: AdmissionRequest;
  resolve(ticket: AdmissionTicket | undefined): void;
}

/**
 * Updates one process keeps on its way to one tenant at once. Temporal limits the updates in flight
 * per workflow (10 by default); a few at once keep a burst's first starts from queueing behind one
 * round trip, while the rest still batch.
 */
const UPDATES_IN_FLIGHT = 3;

/**
 * Admission before start, batched: every run a process starts for a tenant while its updates are on
 * their way joins the next one. A burst of a thousand starts is then a handful of `admitRuns`
 * updates (a few history events on the entity) instead of one each.
 */
export class TenantAdmissions {
  private queue: Pending[] = [];
  private sending = 0;

  constructor(
    private readonly client: Client,
    private readonly tenantId: string,
  ) {}

  admit(request: AdmissionRequest): Promise<AdmissionTicket | undefined> {
    return new Promise((resolve) => {
      this.queue.push({ request, resolve });
      if (this.sending < UPDATES_IN_FLIGHT) void this.send();
    });
  }

  private async send(): Promise<void> {
    this.sending++;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_ADMISSIONS_PER_UPDATE);
      const answers = await this.ask(batch.map((p) => p.request));
      batch.forEach((p, i) => p.resolve(answers?.[i]));
    }
    this.sending--;
  }

  /** The entity's tickets in request order; QUEUE answers, timeouts and errors become `undefined` (ask by signal). */
  private async ask(requests: AdmissionRequest[]): Promise<Array<AdmissionTicket | undefined> | undefined> {
    const entity = this.client.workflow.getHandle(tenantBudgetWorkflowId(this.tenantId));
    try {
      const answers = await this.client.withDeadline(Date.now() + ADMISSION_TIMEOUT_MS, () =>
        updateAskingAgain((updateId) => entity.executeUpdate(admitRunsUpdate, { updateId, args: [{ requests }] })),
      );
      return answers.map((a) => (a.kind === 'QUEUE' ? undefined : a));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        const reason = `unknown tenant ${this.tenantId}: create it first (ados tenant set ${this.tenantId})`;
        return requests.map((r) => ({
          kind: 'REJECTED' as const,
          code: 'UNKNOWN_TENANT' as const,
          runId: r.runId,
          reason,
        }));
      }
      return undefined;
    }
  }
}
