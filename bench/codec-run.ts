/**
 * `npm run bench:codec [-- --quick]`: what payload encryption costs per run (bench/codec.ts), written
 * to bench/results/codec.json.
 */
import { measureCodec } from './codec';
import { runBench, writeReport } from './harness';

runBench(async () => {
  const quick = process.argv.includes('--quick');
  const report = await measureCodec({ runs: quick ? 50 : 200, rounds: quick ? 1 : 3 });
  writeReport('codec', { ...report, at: new Date().toISOString() });
});
