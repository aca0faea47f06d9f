/**
 * Which folder may import which: `npm run lint` runs dependency-cruiser with these rules, and
 * `npm run graph` (bench/import-graph.ts) reports the graph against the same layers.
 *
 * The layers, lowest first. A folder imports its own layer and the layers below it, never one
 * above (api/client, the TypeScript client and every door's launch and admission, sits below the
 * workers that launch runs started bare; the rest of api/ above them): workflow code stays inside Temporal's sandbox (it imports nothing outside workflows/),
 * the platform's plumbing (infra/) knows nothing of activities or workers, and tests and benches
 * share testkit/ instead of importing each other. docs/ARCHITECTURE.md says what each holds.
 */
const LAYERS = [
  ['workflows'],
  ['infra'],
  ['activities'],
  ['api/client'],
  ['workers'],
  ['api'],
  ['examples'],
  ['testkit'],
  ['bench', 'tests'],
];

/** A module belongs to the longest folder of the layers its path starts with (api/client/x.ts to api/client, not api). */
const PREFIXES = LAYERS.flat();
const onePattern = (prefix) => {
  const deeper = PREFIXES.filter((p) => p.startsWith(`${prefix}/`)).map((p) => p.slice(prefix.length + 1));
  return `${prefix}/${deeper.length ? `(?!(${deeper.join('|')})/)` : ''}`;
};
const folderPattern = (folders) => `^(${folders.map(onePattern).join('|')})`;

/** For each layer, a rule that forbids importing any layer above it. */
const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layers: ${layer.join(', ')} imports nothing above it`,
  comment: `${layer.join(' and ')} may import only ${LAYERS.slice(0, i + 1)
    .flat()
    .join(', ')} (docs/ARCHITECTURE.md, "Layers")`,
  severity: 'error',
  from: { path: folderPattern(layer) },
  to: { path: folderPattern(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'modules import each other in a cycle: move what both need into a module below them',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'layers: bench and tests share testkit, not each other',
      comment: 'bench/ and tests/ import each other only through testkit/',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^tests/' },
    },
    {
      name: 'layers: tests and bench share testkit, not each other',
      comment: 'bench/ and tests/ import each other only through testkit/',
      severity: 'error',
      from: { path: '^tests/' },
      to: { path: '^bench/' },
    },
  ],
  options: {
    includeOnly: folderPattern(LAYERS.flat()),
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '\\.d\\.ts$', '/public/', '^api/client/package/dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
// For bench/import-graph.ts; not a dependency-cruiser option, so not enumerable.
Object.defineProperty(module.exports, 'LAYERS', { value: LAYERS, enumerable: false });
