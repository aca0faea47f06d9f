/** Building Temporal Server and its tools from the Go module proxy. */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../user-error';
import { TEMPORAL_SERVER_VERSION, UI_SERVER_VERSION, buildCacheDir } from './layout';
import { environment } from '../config';

/**
 * Temporal Server, temporal-sql-tool and the Web UI server, built from the Go module proxy once per
 * machine into the build cache (infra/cluster/layout.ts). Server v1.32 needs a newer Go than Debian
 * ships, so the build asks the proxy for the toolchain (GOTOOLCHAIN).
 */
export const GO_TOOLCHAIN = 'go1.27.3';

export interface ClusterBinaries {
  server: string;
  sqlTool: string;
  uiServer?: string;
}

const TARGETS = {
  server: {
    pkg: `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`,
    file: 'server',
    version: TEMPORAL_SERVER_VERSION,
  },
  sqlTool: {
    pkg: `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
    file: 'sql',
    version: TEMPORAL_SERVER_VERSION,
  },
  uiServer: {
    pkg: `github.com/temporalio/ui-server/v2/cmd/server@${UI_SERVER_VERSION}`,
    file: 'server',
    version: UI_SERVER_VERSION,
  },
} as const;

function binDir(target: keyof typeof TARGETS, env: NodeJS.ProcessEnv): string {
  const name = target === 'uiServer' ? `ui-server-${UI_SERVER_VERSION}` : `temporal-${TEMPORAL_SERVER_VERSION}`;
  return join(buildCacheDir(env), name, 'bin');
}

function goAvailable(): boolean {
  const probe = spawnSync('go', ['version'], { encoding: 'utf8' });
  return probe.status === 0;
}

/** `go install` into a scratch directory, moved into place only when it succeeds (no half-built binary is ever cached). */
async function goInstall(
  target: keyof typeof TARGETS,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<string> {
  const { pkg, file } = TARGETS[target];
  const dir = binDir(target, env);
  const final = join(dir, file);
  if (existsSync(final)) return final;
  if (!goAvailable())
    throw new UserError(
      `no Go toolchain on PATH: ados cluster builds Temporal Server from the Go module proxy; install Go (apt-get install golang-go) and run again`,
      'UNAVAILABLE',
    );
  const scratch = join(buildCacheDir(env), `.build-${target}-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  mkdirSync(dir, { recursive: true });
  const logFile = join(buildCacheDir(env), `build-${target}.log`);
  log(`building ${pkg} (once per machine, a few minutes; log ${logFile}) ...`);
  const started = Date.now();
  const out = createWriteStream(logFile);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('go', ['install', pkg], {
      env: { ...env, GOBIN: scratch, GOTOOLCHAIN: env.GOTOOLCHAIN ?? GO_TOOLCHAIN, CGO_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    child.on('error', () => resolve(-1));
    child.on('close', resolve);
  });
  await new Promise((r) => out.end(r));
  if (code !== 0 || !existsSync(join(scratch, file))) {
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${code}`;
    throw new UserError(
      `building ${pkg} failed: ${tail.slice(0, 300)} (full log ${logFile}; check the Go module proxy, GOPROXY and disk space)`,
      'UNAVAILABLE',
    );
  }
  renameSync(join(scratch, file), final);
  log(`built ${target} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return final;
}

/** Finds or builds what a cluster needs; `ui` adds the Web UI server. */
export async function ensureClusterBinaries({
  ui = false,
  env = environment(),
  log = (line: string) => process.stderr.write(`${line}\n`),
}: { ui?: boolean; env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): Promise<ClusterBinaries> {
  // The server and the SQL tool come from one module: one build warms the module cache for the other.
  const server = await goInstall('server', env, log);
  const sqlTool = await goInstall('sqlTool', env, log);
  return { server, sqlTool, ...(ui ? { uiServer: await goInstall('uiServer', env, log) } : {}) };
}
