/** One fetch of a key, begun at `startedAt` (ms) after mark `mark`. */
export interface KeyFetch<V> {
  mark: number;
  startedAt: number;
  value: Promise<V>;
}

/**
 * Fetches shared by concurrent callers, per key. A caller asks for a value fetched after it arrived
 * (its `mark`): the fetch in flight serves it when that fetch began later, else one fetch that
 * begins when the one in flight ends, shared by everyone waiting meanwhile. So however many callers
 * come at once, a key has at most one fetch running and one waiting, and every caller still gets a
 * value at least as new as its own arrival. The latest fetch is kept (a failed one is forgotten) for
 * callers content with an older value.
 */
export class SharedFetches<V> {
  private marks = 0;
  private readonly keys = new Map<string, { latest?: KeyFetch<V>; next?: KeyFetch<V> }>();

  constructor(private readonly maxKeys = 10_000) {}

  /** A mark of the present: fetches begun from now on come after it. */
  mark(): number {
    return ++this.marks;
  }

  /** The latest fetch of `key` begun, in flight or done; undefined before the first or after a failure. */
  latest(key: string): KeyFetch<V> | undefined {
    return this.keys.get(key)?.latest;
  }

  /** The value of a fetch of `key` begun after `mark`, made with `fetch` when one has to begin. */
  after(key: string, mark: number, fetch: () => Promise<V>): Promise<V> {
    let entry = this.keys.get(key);
    if (!entry) {
      if (this.keys.size >= this.maxKeys) this.keys.clear();
      this.keys.set(key, (entry = {}));
    }
    const latest = entry.latest;
    if (latest && latest.mark > mark) return latest.value;
    if (!entry.next) {
      const slot = entry;
      const previous = latest ? latest.value.then(ignore, ignore) : Promise.resolve();
      const next: KeyFetch<V> = {
        mark: Number.POSITIVE_INFINITY,
        startedAt: Number.POSITIVE_INFINITY,
        value: previous.then(() => {
          next.mark = this.mark();
          next.startedAt = Date.now();
          slot.latest = next;
          slot.next = undefined;
          return fetch();
        }),
      };
      next.value.catch(() => {
        if (slot.latest === next) slot.latest = undefined;
      });
      entry.next = next;
    }
    return entry.next.value;
  }
}

const ignore = () => undefined;
