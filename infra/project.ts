/** The project's root and its `ados` entry point. */
import { join, resolve } from 'node:path';

/** The project's root: every path ADOS derives from its own files starts here, not from a module's folder. */
export const PROJECT_ROOT = resolve(__dirname, '..');
/** The `ados` command's entry point, which supervisors and tests spawn. */
export const ADOS_BIN = join(PROJECT_ROOT, 'bin', 'ados.js');
