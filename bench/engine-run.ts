/**
 * `npm run bench:engine [-- --quick] [--profile] [--out NAME]`: the engine tax alone (see
 * bench/engine.ts), written to bench/results/{NAME}.json (default engine.json).
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { chain5, diamond10, measureEngine, summarizeProfile, withEngineEnv } from './engine';
import { runBench, writeReport } from './harness';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

runBench(async () => {
  const quick = process.argv.includes('--quick');
  const profileDir = process.argv.includes('--profile') ? join(__dirname, 'results', 'profile') : undefined;
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  const levels = (arg('--levels') ?? (quick ? '50' : '50,200')).split(',').map(Number);
  const report = await withEngineEnv(
    (client, workers) => measureEngine(client, workers, { levels, shapes: ([['chain5', chain5()], ['diamond10', diamond10()]] as const).filter(([name]) => (arg('--shapes') ?? 'chain5,diamond10').split(',').includes(name)), lightRuns: quick ? 30 : 60 }),
    profileDir ? { cpuProfileDir: profileDir } : {},
  );
  writeReport(arg('--out') ?? 'engine', { ...report, ...(profileDir ? { profile: summarizeProfile(profileDir) } : {}), at: new Date().toISOString() });
});
