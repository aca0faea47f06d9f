/** What a run's DAG may hold: the limits, node kinds and tag keys both its checks and its schemas use. */

/** Limits that keep one run's history and fan-out within what one workflow handles well. */
export const DAG_LIMITS = {
  maxNodes: 500,
  maxDepsPerNode: 100,
  maxParallelism: 64,
  /** Serialized size of one node's params, in characters. */
  maxParamsChars: 16_000,
} as const;

/** A node kind: dot-separated lowercase words, such as llm.generate. */
export const NODE_KIND = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;

/** Labels for showback (`ados report` by tag): at most 10, short keys and values, recorded with every charge. */
export const TAG_KEY = /^[a-z][a-z0-9_.-]{0,31}$/;
