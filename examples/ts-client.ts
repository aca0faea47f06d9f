/**
 * A program that uses ADOS through its TypeScript client: it creates a tenant, quotes a RAG run,
 * starts it, follows its progress, and prints its result and what the tenant has spent.
 *
 *   ados dev & ados worker &                       # or any deployment (TEMPORAL_ADDRESS, …)
 *   node --import tsx examples/ts-client.ts [tenantId]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdosClient, AdosError, type RunInput } from 'ados-client';

async function main(): Promise<void> {
  const tenantId = process.argv[2] ?? 'acme';
  const ados = await AdosClient.connect();
  try {
    await ados.configureTenant(tenantId, { budgetUsd: 5, maxConcurrentRuns: 4 });

    const run: RunInput = {
      ...(JSON.parse(readFileSync(join(__dirname, 'rag-run.json'), 'utf8')) as RunInput),
      tenantId,
      tags: { team: 'examples' },
    };
    const quote = await ados.quote(run);
    console.log(`quote: p50 $${quote.p50Usd.toFixed(6)}, p95 $${quote.p95Usd.toFixed(6)} (${quote.basis})`);

    const started = await ados.startRun(run);
    console.log(`started ${started.runId}: ${started.admission.status}`);
    if (started.admission.status === 'REJECTED') throw new Error(`not admitted: ${started.admission.reason}`);

    for (;;) {
      const progress = await ados.progress(tenantId, started.runId);
      const done = Object.values(progress.nodes).filter((n) => n.endedAt).length;
      console.log(`progress: ${progress.status}, ${done}/${Object.keys(progress.nodes).length} nodes`);
      if (!['ADMITTING', 'WAITING', 'RUNNING'].includes(progress.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = await ados.runResult(tenantId, started.runId);
    console.log(`result: ${result.status}, $${result.costUsd.toFixed(6)}`);
    for (const [id, node] of Object.entries(result.nodes))
      console.log(`  ${id}: ${node.status} $${node.costUsd.toFixed(6)}${node.model ? ` (${node.model})` : ''}`);

    const tenant = await ados.tenantStatus(tenantId);
    console.log(
      `tenant ${tenantId}: ${tenant.budgetStatus}, spent $${tenant.spentUsd.toFixed(6)} of $${tenant.budgetUsd}`,
    );
  } catch (err) {
    // ADOS's own errors say what to fix; `issues` lists every problem of an invalid run.
    if (err instanceof AdosError) console.error(`${err.code}: ${err.message}`);
    throw err;
  } finally {
    await ados.close();
  }
}

main().catch(() => {
  process.exitCode = 1;
});
