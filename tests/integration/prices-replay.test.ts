import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { replayHistories } from '../../api/cli/replay-history';
import { priceLlmUsage, runPrices } from '../../activities/pricing';
import { deliveryRun, progressQuery, type RunLaunch } from '../../workflows/delivery-run';
import type { NodeOutcome } from '../../workflows/domain/run/run-state';
import { catalogEstimateMicros, fullVariant } from '../../workflows/domain/prediction/estimates';
import { dagNodeSchema } from '../../workflows/domain/run/dag-schema';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../../workflows/domain/ids';
import { toMicros } from '../../workflows/domain/pricing/catalog';
import { eventually, useTestEnvWithWorkers } from '../../testkit/temporal';
import { nodeOutcomesOf } from '../../testkit/history';

const env = useTestEnvWithWorkers();

describe('prices in history', () => {
  test('a run estimates with the prices in its launch, not the worker’s; its history replays after the price source changed', async () => {
    await configureTenant(env.client, 'priced', { budgetUsd: 100 });
    const current = runPrices();
    // An older price list: gpt-4o at ten times today's price.
    const older = {
      source: current.source,
      version: '0.0.1',
      models: { ...current.models, 'gpt-4o': { ...current.models['gpt-4o']!, inputPer1k: 0.025, outputPer1k: 0.1 } },
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
    const atOlder = catalogEstimateMicros('llm.generate', variant, older);
    const atCurrent = catalogEstimateMicros('llm.generate', variant, current);
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

  test('a tenant’s negotiated rate prices its LLM nodes from the next node on, and each charge records it', async () => {
    await configureTenant(env.client, 'negotiates', { budgetUsd: 100 });
    const llm = (id: string, deps: string[] = []) => ({
      id,
      kind: 'llm.generate',
      params: { model: 'gpt-4o', prompt: 'hello' },
      deps,
    });
    const handle = await startRun(env.client, {
      tenantId: 'negotiates',
      runId: 'mid-run',
      dag: {
        nodes: [
          llm('first'),
          { id: 'wait', kind: 'util.sleep', params: { ms: 3000, costUsd: 0 }, deps: ['first'] },
          llm('second', ['wait']),
        ],
      },
    });
    await eventually(async () => (await handle.query(progressQuery)).nodes.wait?.status === 'RUNNING', {
      what: 'the first node done',
    });
    const rate = { inputPerMtok: 1, outputPerMtok: 1 };
    await configureTenant(env.client, 'negotiates', { negotiatedRates: { 'gpt-4o': rate } });
    const result = await runOutcome(handle);
    assert.equal(result.status, 'COMPLETED');

    const outcomes = await nodeOutcomesOf(handle);
    const [first, second] = [...outcomes.values()].filter((o) => o.category === 'llm');
    const usageOf = (o: NodeOutcome) => ({
      inputTokens: o.pricing!.inputTokens,
      outputTokens: o.pricing!.outputTokens,
    });
    // Before the change: the list price; after: the negotiated rate, recorded with the charge.
    assert.equal(first!.pricing!.negotiated, undefined);
    assert.equal(first!.costMicros, priceLlmUsage('gpt-4o', usageOf(first!)).micros);
    assert.deepEqual(second!.pricing!.negotiated, rate);
    const u = usageOf(second!);
    assert.equal(second!.costMicros, Math.round(u.inputTokens + u.outputTokens));
    assert.ok(second!.costMicros < first!.costMicros);
    assert.equal(toMicros(result.costUsd), first!.costMicros + second!.costMicros);
  });
});
