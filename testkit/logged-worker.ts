/**
 * An `ados worker` process that also runs `test.logged` nodes (./execution-log.ts), for tests that
 * count node executions outside Temporal; its arguments are `ados worker`'s:
 *   ADOS_TEST_EXECUTION_LOG=file node --import tsx testkit/logged-worker.ts [--role …]
 */
import { registerNodeKind } from '../activities/nodes/registry';
import { main } from '../api/cli';
import { loggedNode } from './execution-log';

registerNodeKind(loggedNode);
void main(['node', 'ados', 'worker', ...process.argv.slice(2)]);
