/**
 * The DAGs the engine bench runs and the history each governed run is pinned at: bench/engine.ts
 * measures them, tests/integration/engine-tax.test.ts holds the counts.
 */
export type BenchNode = { id: string; kind: string; deps?: string[]; params: Record<string, unknown> };

/** Five sleeps in a chain: a pipeline whose cost is all orchestration when `ms` is 0. */
export const chain5 = (ms = 0): BenchNode[] =>
  Array.from({ length: 5 }, (_, i) => ({
    id: `n${i}`,
    kind: 'util.sleep',
    ...(i > 0 ? { deps: [`n${i - 1}`] } : {}),
    params: { ms, costUsd: 0.0001 },
  }));

/** A 10-node diamond: one fan-out to eight, one fan-in. */
export const diamond10 = (): BenchNode[] => [
  { id: 'top', kind: 'util.sleep', params: { ms: 0, costUsd: 0.0001 } },
  ...Array.from({ length: 8 }, (_, i) => ({
    id: `mid${i}`,
    kind: 'util.sleep',
    deps: ['top'],
    params: { ms: 0, costUsd: 0.0001 },
  })),
  {
    id: 'bottom',
    kind: 'util.sleep',
    deps: Array.from({ length: 8 }, (_, i) => `mid${i}`),
    params: { ms: 0, costUsd: 0.0001 },
  },
];

/**
 * The history of one governed chain5 run admitted by ticket, as the bench measures it: bare
 * Temporal's 35 events plus the search-attribute upsert of its final status (its release goes out
 * through its worker). A test pins it (tests/integration/engine-tax.test.ts), so that governance
 * cannot grow a run's history unseen.
 */
export const GOVERNED_CHAIN5 = { runEvents: 36, workflowTasks: 6, bareEvents: 35 } as const;

/**
 * The same run started with a plain Temporal client (the Temporal CLI), which passes no launch: its
 * worker makes the launch in the settings local activity (one marker), and the run sets its first
 * search attributes itself (one upsert more). Pinned by the same test.
 */
export const PLAIN_CHAIN5 = { runEvents: 38, workflowTasks: 6 } as const;
/** The same, for a plain-client run that had to wait: queued by its launch, admitted by one signal. */
export const PLAIN_QUEUED_CHAIN5 = { runEvents: 43, workflowTasks: 7 } as const;
