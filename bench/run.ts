import { runBench } from './harness';
import { runBenchSuite } from './suite';

runBench(() => runBenchSuite({ quick: process.argv.includes('--quick') }));
