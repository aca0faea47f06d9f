import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { configureTenant, runOutcome } from '../../api/client';
import { replayHistories } from '../../api/replay';
import { runPrices } from '../../activities/pricing';
import { deliveryRun, type RunLaunch } from '../../workflows/delivery-run';
import { catalogEstimateMicros, fullVariant } from '../../workflows/policy/estimates';
import { dagNodeSchema } from '../../workflows/policy/dag';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../../workflows/policy/ids';
import { toMicros } from '../../workflows/policy/catalog';
import { useTestEnvWithWorkers } from '../helpers/temporal';

const env = useTestEnvWithWorkers();

describe('prices in history', () => {
  test('a run estimates with the prices in its launch, not the worker’s; its history replays after the price source changed', async () => {
    await configureTenant(env.client, 'priced', { budgetUsd: 100 });
    const current = runPrices();
    // An older price list: gpt-4o at ten times today's price.
    const older = {
      source: current.source,
      version: '0.0.1',
      models: { ...current.models, 'gpt-4o': { inputPer1k: 0.025, outputPer1k: 0.1 } },
    };
    const node = { id: 'generate', kind: 'llm.generate', params: { model: 'gpt-4o', prompt: 'hello' } };
    const launch: RunLaunch = { nodePartitions: 4, kindsChecked: true, prices: older };
    const handle = await env.client.workflow.start(deliveryRun, {
      workflowId: deliveryRunWorkflowId('priced', 'old-prices'),
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ tenantId: 'priced', runId: 'old-prices', dag: { nodes: [node] } }, launch],
    });
    const result = await runOutcome(handle);
    assert.equal(result.status, 'COMPLETED');
    const variant = fullVariant(dagNodeSchema.parse(node));
    const atOlder = catalogEstimateMicros('llm.generate', variant, older.models);
    const atCurrent = catalogEstimateMicros('llm.generate', variant, current.models);
    assert.equal(atOlder, 10 * atCurrent, 'the two price lists differ');
    assert.equal(
      toMicros(result.decisions[0]!.nodeEstimateUsd),
      atOlder,
      'the CostAgent estimated at the launch’s prices',
    );

    // Replayed by today's workers, whose price source says otherwise: the same decisions.
    const dir = mkdtempSync(join(tmpdir(), 'ados-prices-'));
    const file = join(dir, 'old-prices.json');
    writeFileSync(file, historyToJSON(await handle.fetchHistory()));
    const [outcome] = await replayHistories([file], env.bundle);
    assert.equal(outcome?.ok, true, outcome?.error);
  });
});
