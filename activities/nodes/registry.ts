/** The node kinds this process's workers run: the built-in ones and those a deployment registers. */
import { llmGenerate } from './llm';
import { evalScore, rerank } from './quality';
import { retrievalSearch } from './retrieval';
import { utilFail, utilSleep, utilSpin } from './util';
import type { NodeKind } from './kind';
import { BUILTIN_NODE_KINDS } from '../../workflows/domain/run/routing';

const kinds = new Map<string, NodeKind>();

/**
 * Adds a node kind to this process's workers. Register before the workers start: a run validates
 * its DAG against the kinds its control worker knows, and each node worker serves the kinds it has.
 */
export function registerNodeKind(kind: NodeKind): void {
  if (!/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/.test(kind.kind))
    throw new Error(`node kind name ${JSON.stringify(kind.kind)} must look like my_team.summarize`);
  kinds.set(kind.kind, kind);
}

export function nodeKinds(): NodeKind[] {
  return [...kinds.values()];
}

const builtins = [retrievalSearch, llmGenerate, rerank, evalScore, utilSleep, utilSpin, utilFail];
for (const builtin of builtins) registerNodeKind(builtin);
// Starters trust this list without loading the kinds (workflows/domain/run/routing.ts): it must name exactly these.
if (builtins.map((k) => k.kind).join() !== BUILTIN_NODE_KINDS.join())
  throw new Error('BUILTIN_NODE_KINDS does not match the built-in node kinds');
