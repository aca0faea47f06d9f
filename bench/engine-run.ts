/**
 * `npm run bench:engine [-- --quick] [--profile] [--out NAME]`: the engine tax alone (see
 * bench/engine.ts), written to bench/results/{NAME}.json (default engine.json).
 */
import { join } from 'node:path';
import { chain5, diamond10 } from '../testkit/workloads';
import { measureEngine, profileBatch, withEngineEnv, type EngineReport } from './engine';
import { runBench, writeReport } from './harness';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

runBench(async () => {
  const quick = process.argv.includes('--quick');
  const profileDir = process.argv.includes('--profile') ? join(__dirname, 'results', 'profile') : undefined;
  const levels = (arg('--levels') ?? (quick ? '50' : '50,200')).split(',').filter(Boolean).map(Number);
  const shapes = (
    [
      ['chain5', chain5()],
      ['diamond10', diamond10()],
    ] as const
  ).filter(([name]) => (arg('--shapes') ?? 'chain5,diamond10').split(',').includes(name));
  const report: EngineReport = await withEngineEnv((client, workers) =>
    measureEngine(client, workers, {
      levels,
      shapes,
      lightRuns: quick ? 30 : 60,
      rounds: Number(arg('--rounds') ?? (quick ? 1 : 3)),
    }),
  );
  if (profileDir) {
    const runs = Math.max(...levels);
    report.profile = {
      runs,
      governed: await profileBatch('governed', chain5(), runs, join(profileDir, 'governed')),
      bare: await profileBatch('bare', chain5(), runs, join(profileDir, 'bare')),
    };
  }
  writeReport(arg('--out') ?? 'engine', { ...report, at: new Date().toISOString() });
});
