/** An error meant for the person at the terminal or the API caller: its message says what to fix. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly code: 'INVALID_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'UNAVAILABLE' = 'INVALID_INPUT',
    readonly issues: string[] = [],
  ) {
    super(message);
  }
}
