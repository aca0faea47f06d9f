/** `npm run bench`: the whole bench suite, or (`--render`) its tables from the last results. */
import { runBench } from './harness';
import { renderResults, runBenchSuite } from './suite';

// `--render` only redraws the table and chart from the last results (e.g. after bench/budget-races.ts ran alone).
runBench(async () =>
  process.argv.includes('--render') ? renderResults() : runBenchSuite({ quick: process.argv.includes('--quick') }),
);
