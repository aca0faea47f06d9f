import { join } from 'node:path';
import { chain5, profileBatch } from '/work/main/bench/engine';
(async () => {
  const kind = process.argv[2] as 'governed' | 'bare';
  const p = await profileBatch(kind, chain5(), 200, join('/work/main/bench/results/profile', kind));
  console.log(kind, p.totalMs);
  for (const a of p.areas.slice(0, 10)) console.log('   ', a.pct, a.ms, a.area);
  for (const f of p.functions.slice(0, 30)) console.log('      ', f.pct, f.ms, f.name, f.where);
  process.exit(0);
})();
