/**
 * The import graph by folder: `npm run graph [-- --json]`. Reads every source file's imports with
 * dependency-cruiser (the same reading `npm run lint` checks the boundaries with) and reports which
 * top-level folder pairs import each other, the arrows that run back up the layers, import cycles
 * between files and between folders, and the ten largest source files. docs/ARCHITECTURE.md gives
 * the layers and why.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The layers, lowest first (.dependency-cruiser.cjs): a folder may import its own layer and those below it. */
const CONFIG = require('../.dependency-cruiser.cjs') as { LAYERS: string[][]; options: Record<string, unknown> };
export const LAYERS = CONFIG.LAYERS;
const layerOf = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));
const SOURCE_ROOTS = LAYERS.flat().filter((folder) => existsSync(folder));

interface Graph {
  /** Folder pairs with an import in either direction. */
  folderPairs: string[];
  /** Folder pairs that import each other both ways. */
  mutualPairs: string[];
  backArrows: string[];
  fileCycles: string[][];
  folderCycles: string[][];
  largest: { file: string; lines: number }[];
}

async function cruiseGraph(): Promise<Graph> {
  const { cruise } = await import('dependency-cruiser');
  const result = await cruise(['.'], CONFIG.options);
  if (typeof result.output === 'string') throw new Error('dependency-cruiser returned text, not modules');
  const modules = result.output.modules.filter((m) => !m.coreModule && !m.source.includes('node_modules'));
  // A module's folder: the longest of the layers' folders its path starts with.
  const top = (path: string) =>
    SOURCE_ROOTS.filter((f) => path.startsWith(`${f}/`)).sort((a, b) => b.length - a.length)[0] ?? path.split('/')[0]!;
  const edges = new Map<string, Set<string>>();
  const folderEdges = new Set<string>();
  const back = new Set<string>();
  for (const m of modules) {
    const deps = m.dependencies.filter(
      (d) => !d.coreModule && !d.couldNotResolve && !d.resolved.includes('node_modules'),
    );
    edges.set(m.source, new Set(deps.map((d) => d.resolved)));
    for (const d of deps) {
      const [from, to] = [top(m.source), top(d.resolved)];
      if (from === to) continue;
      folderEdges.add(`${from} → ${to}`);
      if (layerOf(to) > layerOf(from) || (layerOf(to) === layerOf(from) && from !== to))
        back.add(`${m.source} → ${d.resolved}`);
    }
  }
  const pairs = new Set<string>();
  for (const e of folderEdges) {
    const [a, b] = e.split(' → ') as [string, string];
    pairs.add([a, b].sort().join(' ↔ '));
  }
  const largest = modules
    .filter((m) => /\.(ts|mjs|js)$/.test(m.source))
    .map((m) => ({ file: m.source, lines: readFileSync(m.source, 'utf8').split('\n').length }))
    .sort((a, b) => b.lines - a.lines)
    .slice(0, 10);
  const folderGraph = new Map<string, Set<string>>();
  for (const e of folderEdges) {
    const [a, b] = e.split(' → ') as [string, string];
    folderGraph.set(a, (folderGraph.get(a) ?? new Set()).add(b));
  }
  return {
    folderPairs: [...pairs].sort(),
    mutualPairs: [...pairs]
      .filter((p) => {
        const [a, b] = p.split(' ↔ ');
        return folderEdges.has(`${a} → ${b}`) && folderEdges.has(`${b} → ${a}`);
      })
      .sort(),
    backArrows: [...back].sort(),
    fileCycles: cycles(edges),
    folderCycles: cycles(folderGraph),
    largest,
  };
}

/** The strongly connected components of more than one node (Tarjan), each a cycle or a knot of them. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

async function main(): Promise<void> {
  const graph = await cruiseGraph();
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(graph, null, 2)}\n`);
    return;
  }
  const folders = SOURCE_ROOTS.length;
  const lines = [
    `folder pairs with an import either way: ${graph.folderPairs.length} of ${(folders * (folders - 1)) / 2}`,
    `folder pairs that import each other both ways: ${graph.mutualPairs.length}`,
    ...graph.mutualPairs.map((p) => `  ${p}`),
    `arrows that run back up: ${graph.backArrows.length}`,
    ...graph.backArrows.map((a) => `  ${a}`),
    `file cycles: ${graph.fileCycles.length}`,
    ...graph.fileCycles.map((c) => `  ${c.join(', ')}`),
    `folder cycles: ${graph.folderCycles.length}`,
    ...graph.folderCycles.map((c) => `  ${c.join(', ')}`),
    'largest source files:',
    ...graph.largest.map((f) => `  ${f.lines} ${f.file}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
