/** Replaying recorded histories against today's workflow code. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { bundleWorkflows } from '../../workers/ados-worker';
import { metricsSinks } from '../../infra/metrics/worker-metrics';
import { releaseSinks } from '../../workers/release-sink';
import { UserError } from '../client';
import { KeyRingCodec } from '../../infra/payload-codec';

export interface ReplayOutcome {
  file: string;
  workflowId: string;
  ok: boolean;
  error?: string;
}

/** History files under the given paths: files as given, folders searched for `*.json` histories. */
export function historyFiles(paths: string[]): string[] {
  return paths.flatMap((path) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) throw new UserError(`no such file or folder: ${path}`);
    if (stat.isFile()) return [path];
    return readdirSync(path, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((entry) =>
        entry.isDirectory()
          ? historyFiles([join(path, entry.name)])
          : entry.name.endsWith('.json')
            ? [join(path, entry.name)]
            : [],
      );
  });
}

function loadHistory(file: string): { workflowId: string; history: unknown } {
  const history = JSON.parse(readFileSync(file, 'utf8')) as { events?: unknown[] };
  if (!Array.isArray(history.events) || history.events.length === 0)
    throw new UserError(`${file} is not a Temporal JSON history (no events)`);
  const first = history.events[0] as { workflowExecutionStartedEventAttributes?: { workflowId?: string } };
  // Exported histories don't name their workflow; the file name or its folder does.
  const workflowId = first.workflowExecutionStartedEventAttributes?.workflowId ?? basename(file, '.json');
  return { workflowId, history };
}

/** Replays each history against the current workflow code, on one replay worker; a nondeterministic change fails it. */
export async function replayHistories(files: string[], workflowBundle?: WorkflowBundle): Promise<ReplayOutcome[]> {
  const loaded = files.map((file) => ({ file, ...loadHistory(file) }));
  const outcomes: ReplayOutcome[] = [];
  const results = Worker.runReplayHistories(
    {
      workflowBundle: workflowBundle ?? (await bundleWorkflows()),
      replayName: 'ados-replay',
      // Encrypted histories replay with the key ring, whatever this process would write; plain payloads pass as they are.
      dataConverter: { payloadCodecs: [new KeyRingCodec()] },
      sinks: { ...metricsSinks(undefined), ...releaseSinks(() => Promise.reject(new Error('replay sends nothing'))) },
    },
    loaded.map(({ workflowId, history }) => ({ workflowId, history })),
  );
  let i = 0;
  // Results come back in the order the histories were given.
  for await (const result of results) {
    const { file, workflowId } = loaded[i++]!;
    outcomes.push({
      file,
      workflowId: result.workflowId || workflowId,
      ok: !result.error,
      ...(result.error ? { error: replayError(result.error) } : {}),
    });
  }
  return outcomes;
}

/**
 * A history the key ring cannot open fails with the key's one line (which key, and that the ring
 * lacks it), not with the replayer's whole report of the failed workflow task around it.
 */
function replayError(err: Error): string {
  const key =
    /(payload sealed under key [^,"\\]+, which is not in the key ring|a payload sealed under key \S+ does not open with it)[^"\\]*/.exec(
      err.message,
    );
  return key ? `PayloadKeyError: ${key[0]}` : `${err.name}: ${err.message}`;
}
