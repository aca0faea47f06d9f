/**
 * A tenant's API tokens, kept in its entity: only their SHA-256 hashes are stored; the token itself
 * is shown once, to whoever issued it.
 */
export interface ApiToken {
  id: string;
  /** Hex SHA-256 of the token; the token itself is shown once, to whoever issued it, and never stored. */
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

/** Active tokens a tenant may hold at once; revoke one to issue another. */
export const MAX_ACTIVE_TOKENS = 20;

/** The token list in a tenant's state: checked additions, revocations, and the view without hashes. */
export class TenantTokens {
  constructor(private readonly owner: { tokens?: ApiToken[] }) {}

  active(): ApiToken[] {
    return (this.owner.tokens ?? []).filter((t) => !t.revokedAt);
  }

  /** Every token, revoked ones with when, never the hashes. */
  listed(): Array<Omit<ApiToken, 'hash'>> {
    return (this.owner.tokens ?? []).map(({ hash: _hash, ...token }) => token);
  }

  /** Why a token cannot be added, or undefined if it can. */
  problem(token: { id: string; hash: string }): string | undefined {
    if (!/^[a-f0-9]{64}$/.test(token.hash)) return 'hash must be 64 lowercase hex characters (SHA-256)';
    if (!/^[a-z0-9]{1,32}$/.test(token.id)) return 'token id must be 1-32 lowercase letters or digits';
    if ((this.owner.tokens ?? []).some((t) => t.id === token.id)) return `token id ${token.id} is already used`;
    if (this.active().length >= MAX_ACTIVE_TOKENS)
      return `tenant already has ${MAX_ACTIVE_TOKENS} active tokens; revoke one first`;
    return undefined;
  }

  add(token: { id: string; hash: string }, now: string): Omit<ApiToken, 'hash'> {
    (this.owner.tokens ??= []).push({ id: token.id, hash: token.hash, createdAt: now });
    return { id: token.id, createdAt: now };
  }

  /** Revokes a token; false if there is no such active token. Revoked tokens stay listed, with when. */
  revoke(id: string, now: string): boolean {
    const token = this.active().find((t) => t.id === id);
    if (!token) return false;
    token.revokedAt = now;
    return true;
  }
}
