/**
 * What payload encryption costs (infra/payload-codec.ts): the same governed and bare batches as the
 * engine bench, once with ADOS_PAYLOAD_CODEC=none and once with aes, each on a fresh server with its
 * own worker process; per run, the worker's CPU milliseconds and the history bytes Temporal stores.
 * Beside them, the codec alone in this process: sealing and opening every payload of one recorded
 * run, timed over many repetitions (a figure a noisy machine barely moves).
 */
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { KeyRingCodec } from '../infra/payload-codec';
import { chain5 } from '../testkit/workloads';
import { bareBatch, governedBatch, warmUp, withEngineEnv, type EngineBatch } from './engine';
import { median } from './stats';

type Mode = 'none' | 'aes';

export interface CodecModeFigures {
  governed: Pick<EngineBatch, 'workerCpuMsPerRun' | 'historyBytesPerRun' | 'wallMs'>;
  bare: Pick<EngineBatch, 'workerCpuMsPerRun' | 'historyBytesPerRun' | 'wallMs'>;
}

export interface CodecReport {
  dag: 'chain5';
  runs: number;
  rounds: number;
  none: CodecModeFigures;
  aes: CodecModeFigures;
  /** aes − none, per run (CPU: the median round's difference). */
  cpuMsPerRun: { governed: number; bare: number };
  historyBytesPerRun: { governed: number; bare: number };
  /** The codec alone: every payload of one governed chain5 run's own history, sealed and opened once. */
  inProcess: { payloads: number; plainBytes: number; sealedBytes: number; sealAndOpenMicros: number };
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const pick = ({ workerCpuMsPerRun, historyBytesPerRun, wallMs }: EngineBatch) => ({
  workerCpuMsPerRun,
  historyBytesPerRun,
  wallMs,
});

async function measureMode(
  mode: Mode,
  runs: number,
  rounds: number,
): Promise<{ rounds: CodecModeFigures[]; payloads: Payload[] }> {
  const before = process.env.ADOS_PAYLOAD_CODEC;
  // Read by every client and worker as it is made: the worker process inherits it.
  process.env.ADOS_PAYLOAD_CODEC = mode;
  try {
    return await withEngineEnv(async (client, workers) => {
      await warmUp(client, workers, 1);
      const measured: CodecModeFigures[] = [];
      for (let round = 0; round < rounds; round++)
        measured.push({
          governed: pick(await governedBatch(client, workers, chain5(), runs)),
          bare: pick(await bareBatch(client, workers, chain5(), runs)),
        });
      return { rounds: measured, payloads: mode === 'none' ? await onePlainRun(client) : [] };
    });
  } finally {
    if (before === undefined) delete process.env.ADOS_PAYLOAD_CODEC;
    else process.env.ADOS_PAYLOAD_CODEC = before;
  }
}

/** Every payload of one governed chain5 run's own history, as stored without the codec. */
async function onePlainRun(client: Client): Promise<Payload[]> {
  let id: string | undefined;
  for await (const wf of client.workflow.list({ query: `WorkflowType = 'deliveryRun'` })) {
    id = wf.workflowId;
    break;
  }
  if (!id) throw new Error('no deliveryRun to take payloads from');
  const history = await client.workflow.getHandle(id).fetchHistory();
  const payloads: Payload[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const object = node as { metadata?: unknown; data?: unknown };
    if (object.metadata && object.data instanceof Uint8Array) {
      payloads.push(object as Payload);
      return;
    }
    Object.values(object).forEach(visit);
  };
  visit(history.events);
  return payloads;
}

/** Seals and opens the payloads as a run's writers and readers would (one context: the run's). */
async function sealAndOpen(payloads: Payload[]): Promise<CodecReport['inProcess']> {
  const codec = new KeyRingCodec();
  const context = { type: 'workflow' as const, namespace: 'default', workflowId: 'delivery-run:bench:r1' };
  const size = (ps: Payload[]) => ps.reduce((s, p) => s + temporal.api.common.v1.Payload.encode(p).finish().length, 0);
  const sealed = await codec.encode(payloads, context);
  const n = 2000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await codec.decode(await codec.encode(payloads, context));
  return {
    payloads: payloads.length,
    plainBytes: size(payloads),
    sealedBytes: size(sealed),
    sealAndOpenMicros: r1(Number(process.hrtime.bigint() - t0) / 1000 / n),
  };
}

export async function measureCodec({ runs, rounds }: { runs: number; rounds: number }): Promise<CodecReport> {
  const none = await measureMode('none', runs, rounds);
  const aes = await measureMode('aes', runs, rounds);
  // Each mode's figures are its median round's (by worker CPU); the CPU cost is the median of the rounds' differences.
  const middle = (m: { rounds: CodecModeFigures[] }): CodecModeFigures => {
    const of = (k: 'governed' | 'bare') =>
      m.rounds.find((r) => r[k].workerCpuMsPerRun === median(m.rounds.map((x) => x[k].workerCpuMsPerRun)))![k];
    return { governed: of('governed'), bare: of('bare') };
  };
  const off = middle(none);
  const on = middle(aes);
  const cpuCost = (k: 'governed' | 'bare') =>
    r1(median(aes.rounds.map((r, i) => r[k].workerCpuMsPerRun - none.rounds[i]![k].workerCpuMsPerRun)));
  const report: CodecReport = {
    dag: 'chain5',
    runs,
    rounds,
    none: off,
    aes: on,
    cpuMsPerRun: { governed: cpuCost('governed'), bare: cpuCost('bare') },
    historyBytesPerRun: {
      governed: on.governed.historyBytesPerRun - off.governed.historyBytesPerRun,
      bare: on.bare.historyBytesPerRun - off.bare.historyBytesPerRun,
    },
    inProcess: await sealAndOpen(none.payloads),
  };
  process.stderr.write(
    `  codec: worker CPU ms per run governed ${report.none.governed.workerCpuMsPerRun} → ${report.aes.governed.workerCpuMsPerRun}, bare ${report.none.bare.workerCpuMsPerRun} → ${report.aes.bare.workerCpuMsPerRun}; history bytes per run governed ${report.none.governed.historyBytesPerRun} → ${report.aes.governed.historyBytesPerRun}, bare ${report.none.bare.historyBytesPerRun} → ${report.aes.bare.historyBytesPerRun}; the codec alone ${report.inProcess.sealAndOpenMicros} µs for a run's ${report.inProcess.payloads} payloads\n`,
  );
  return report;
}
