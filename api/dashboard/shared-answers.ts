/**
 * Answers shared by every page that asks within `ttlMs`, and one call in flight per key: however
 * many dashboards are open on a tenant, its status is queried at most once a second.
 */
export class SharedAnswers {
  private readonly entries = new Map<string, { at: number; answer: Promise<unknown> }>();
  constructor(
    private readonly ttlMs: number,
    private readonly loaded: (view: string) => void = () => undefined,
  ) {}

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const cached = this.entries.get(key);
    if (cached && now - cached.at < this.ttlMs) return cached.answer as Promise<T>;
    this.loaded(key.split(':')[0]!);
    const answer = load();
    this.entries.set(key, { at: now, answer });
    // A failure is not kept: the next page asks again.
    answer.catch(() => this.entries.delete(key));
    return answer;
  }
}
