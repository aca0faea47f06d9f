/**
 * Every id ADOS gives a workflow, built and parsed here and nowhere else: the exporter, the API,
 * the codec's key scope, the logs and the runs themselves read a run's tenant the same way.
 */

/** Tenant, run and node ids: safe as path segments and inside workflow ids (`^[a-z0-9][a-z0-9_-]{0,62}$`). */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Throws a plain Error naming the field; for clients and activities, never for workflow code. */
export function assertId(kind: string, value: unknown): string {
  if (!isValidId(value)) {
    throw new Error(`invalid ${kind} ${JSON.stringify(value)}: ids must match ${ID_PATTERN.source}`);
  }
  return value;
}

/** The runs and every workflow but the entities: one workflow task per step of a run, thousands at once in a burst. */
export const CONTROL_TASK_QUEUE = 'ados-control';
/**
 * The entities (each tenant's `tenantBudget`, `metaLearning`) and the alerts they start. A run's
 * first workflow task waits for its tenant's admission answer: were the entities on the runs' queue,
 * a burst of runs would hold every workflow-task slot while their entity waited for one to answer.
 */
export const ENTITY_TASK_QUEUE = 'ados-entities';
/**
 * An entity's workflow task timeout (Temporal's default is 10 s), set on every start and
 * continue-as-new: the entities of a worker share one workflow thread, so a task queued behind
 * another entity's replay still completes instead of timing out, being evicted and needing a replay
 * of its own (workflows/tenant/entity-lifetime.ts).
 */
export const ENTITY_WORKFLOW_TASK_TIMEOUT = '30s';
export const META_LEARNING_WORKFLOW_ID = 'meta-learning';
/**
 * In a deployment of regions, the meta-learning entity of a placement's tenants whose scope is
 * `all-regions`: its statistics stay in the placement's namespace, and each release it publishes
 * also goes to the directory's priors exchange, which every region reads.
 */
export const META_LEARNING_SHARED_WORKFLOW_ID = 'meta-learning:all-regions';
/**
 * The meta-learning entity a tenant of this scope contributes to. Outside a deployment of regions
 * there is one namespace and so one pool, whatever the scope: splitting it would only add noise.
 */
export function metaLearningWorkflowId(scope: 'placement' | 'all-regions' = 'placement', inRegions: boolean): string {
  return scope === 'all-regions' && inRegions ? META_LEARNING_SHARED_WORKFLOW_ID : META_LEARNING_WORKFLOW_ID;
}
/** `priors-exchange:{namespace}`: in the directory, the latest release a placement shared with every region. */
export function priorsExchangeWorkflowId(namespace: string): string {
  return `priors-exchange:${namespace}`;
}

/**
 * The directory of a deployment of several regions: which placement each tenant has, one
 * `tenantPlacement` workflow per tenant, in a namespace that spans every region (any region that
 * survives can read it). It holds tenant ids and placements, nothing of a tenant's data.
 */
export const DIRECTORY_NAMESPACE = 'ados-directory';

/** `tenant-placement:{tenantId}`: a tenant's entry in the directory. */
export function tenantPlacementWorkflowId(tenantId: string): string {
  return `tenant-placement:${tenantId}`;
}

/** `delivery-run:{tenantId}:{runId}`: one run of one tenant. */
export function deliveryRunWorkflowId(tenantId: string, runId: string): string {
  return `delivery-run:${tenantId}:${runId}`;
}

/** The tenant and run of a workflow id of the form `delivery-run:{tenantId}:{runId}`, or undefined. */
export function parseDeliveryRunWorkflowId(workflowId: string): { tenantId: string; runId: string } | undefined {
  const parts = workflowId.split(':');
  if (parts.length !== 3 || parts[0] !== 'delivery-run' || !isValidId(parts[1]) || !isValidId(parts[2]))
    return undefined;
  return { tenantId: parts[1], runId: parts[2] };
}

/** `tenant-budget:{tenantId}`: the tenant's entity. */
export function tenantBudgetWorkflowId(tenantId: string): string {
  return `tenant-budget:${tenantId}`;
}

/** The tenant of a `tenant-budget:{tenantId}` id, or undefined. */
export function parseTenantBudgetWorkflowId(workflowId: string): string | undefined {
  const [type, tenantId, ...rest] = workflowId.split(':');
  return type === 'tenant-budget' && rest.length === 0 && isValidId(tenantId) ? tenantId : undefined;
}

/** `shadow-exploration:{tenantId}:{runId}:{nodeId}`: one node of one run explored with a cheaper model. */
export function shadowExplorationWorkflowId(tenantId: string, runId: string, nodeId: string): string {
  return `shadow-exploration:${tenantId}:${runId}:${nodeId}`;
}

/** `delivery-export:{tenantId}:{runId}`: the exporter child runs of earlier versions started as they closed. */
export function deliveryExportWorkflowId(tenantId: string, runId: string): string {
  return `delivery-export:${tenantId}:${runId}`;
}

/** An alert's id: `{type}:{tenantId}:{periodStart}[:{threshold}]`, stable per tenant, period, type and threshold. */
export function budgetAlertId(type: string, tenantId: string, periodStart: string, threshold?: number): string {
  return [type, tenantId, periodStart, ...(threshold !== undefined ? [String(threshold)] : [])].join(':');
}

/** One workflow per alert, so Temporal refuses a second delivery of the same alert. */
export function budgetAlertWorkflowId(alertId: string): string {
  return `budget-alert:${alertId}`;
}

/**
 * The tenant a workflow belongs to, for every ADOS workflow whose id names one (runs, entities,
 * shadows, exporters, alerts); undefined for the others (meta-learning, the export sweep).
 */
export function tenantOfWorkflowId(workflowId: string | undefined): string | undefined {
  if (!workflowId) return undefined;
  const parts = workflowId.split(':');
  switch (parts[0]) {
    case 'delivery-run':
    case 'tenant-budget':
    case 'shadow-exploration':
    case 'delivery-export':
      return parts[1];
    case 'budget-alert':
      // budget-alert:{type}:{tenantId}:{periodStart}…
      return parts[2];
    default:
      return undefined;
  }
}
