import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { configureTenant, tenantStatus } from '../../api/client';
import { completeDurably, newExecutionId } from '../../activities/durable-completion';
import { logger } from '../../infra/logging/logger';
import { micros, useTestEnvWithWorkers } from '../../testkit/temporal';

/**
 * A node that completes itself (a deployment of regions) and whose completion Temporal does not
 * take, for any reason, is still charged: it ran and cost money.
 */
const env = useTestEnvWithWorkers();

describe('durable node completion', () => {
  test('a completion Temporal refuses until the deadline (not a "not found"): the execution is charged apart, once', async () => {
    await configureTenant(env.client, 'durable', { budgetUsd: 1 });
    const task = { tenantId: 'durable', runId: 'gone', nodeId: 'n1', kind: 'util.sleep', params: {}, upstream: {} };
    const outcome = {
      status: 'COMPLETED' as const,
      output: {},
      costMicros: 4_321,
      category: 'compute' as const,
      attempt: 1,
      durationMs: 1,
      executionId: newExecutionId(),
    };
    // A task token the server cannot read: it answers InvalidArgument, never "not found".
    const activity = { taskToken: randomBytes(24), activityId: 'n1', workflowId: 'run:durable:gone' };
    const started = Date.now();
    const result = await completeDurably(env.client, activity, task, 'util.sleep', outcome, logger, {
      deadlineMs: 1000,
    });
    assert.equal(result, 'charged apart');
    assert.ok(Date.now() - started >= 1000, 'it kept trying until its deadline');
    // The same execution reported again (its completion landed after all, or a repeat): one charge.
    await completeDurably(env.client, activity, task, 'util.sleep', outcome, logger, { deadlineMs: 0 });
    const status = await tenantStatus(env.client, 'durable');
    assert.equal(micros(status.spentUsd), 4_321);
  });
});
