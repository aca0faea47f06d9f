/** The key a node's charge goes under: what makes the tenant's entity charge each execution once. */

/**
 * `{run}/{node}`, or `{run}/{node}#{execution}` for an execution that carries its own id (nodes
 * report one since regional deployments: a node run again after a failover is charged again, under
 * its own id, and the same execution reported by two paths is charged once).
 */
export function nodeChargeKey(runId: string, nodeId: string, executionId?: string): string {
  return executionId ? `${runId}/${nodeId}#${executionId}` : `${runId}/${nodeId}`;
}
