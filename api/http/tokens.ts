import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { isValidId, tenantBudgetWorkflowId } from '../../workflows/policy/ids';
import { authTokensQuery, issueTokenUpdate, revokeTokenUpdate } from '../../workflows/messages/tenant-budget';
import { UserError } from '../client';

/**
 * Tenant API tokens: `ados.{tenantId}.{secret}` with a 256-bit random secret. The tenant id in the
 * token says which entity to check it against; the entity stores only the SHA-256 of the whole
 * token, so neither Temporal's history nor its queries ever hold a usable token.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The tenant a token claims to belong to (not yet verified), or undefined if it is not a tenant token. */
export function tokenTenant(token: string): string | undefined {
  const parts = token.split('.');
  return parts.length === 3 && parts[0] === 'ados' && isValidId(parts[1]) && /^[A-Za-z0-9_-]{43}$/.test(parts[2]!)
    ? parts[1]
    : undefined;
}

/** Issues a token for an existing tenant; the token is returned once and stored only as its hash. */
export async function issueTenantToken(
  client: Client,
  tenantId: string,
): Promise<{ token: string; tokenId: string; createdAt: string }> {
  const token = `ados.${tenantId}.${randomBytes(32).toString('base64url')}`;
  const id = randomBytes(6).toString('hex');
  try {
    const issued = await client.workflow
      .getHandle(tenantBudgetWorkflowId(tenantId))
      .executeUpdate(issueTokenUpdate, { args: [{ id, hash: hashToken(token) }] });
    return { token, tokenId: issued.id, createdAt: issued.createdAt };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`unknown tenant ${tenantId}`, 'NOT_FOUND');
    // The entity refuses a token beyond the tenant's maximum of active ones.
    if (err instanceof WorkflowUpdateFailedError) throw new UserError(err.cause?.message ?? err.message, 'CONFLICT');
    throw err;
  }
}

export async function revokeTenantToken(client: Client, tenantId: string, tokenId: string): Promise<boolean> {
  try {
    return (
      await client.workflow
        .getHandle(tenantBudgetWorkflowId(tenantId))
        .executeUpdate(revokeTokenUpdate, { args: [{ id: tokenId }] })
    ).revoked;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`unknown tenant ${tenantId}`, 'NOT_FOUND');
    throw err;
  }
}

/**
 * Checks bearer tokens against their tenants' entities, remembering answers for a few seconds so
 * that a busy client costs its entity one query per window, not one per request. A revoked token
 * stops working when its cached answer expires.
 */
export class TokenVerifier {
  private readonly cache = new Map<string, { tenantId: string | undefined; until: number }>();

  constructor(
    private readonly client: Client,
    private readonly cacheMs: number,
  ) {}

  /** The tenant the token belongs to, or undefined for a token that is not valid. */
  async verify(token: string): Promise<string | undefined> {
    const tenantId = tokenTenant(token);
    if (!tenantId) return undefined;
    const hash = hashToken(token);
    const cached = this.cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.tenantId;
    const active = await this.client.workflow
      .getHandle(tenantBudgetWorkflowId(tenantId))
      .query(authTokensQuery)
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return [];
        throw err;
      });
    const given = Buffer.from(hash, 'hex');
    const valid = active.some((t) => timingSafeEqual(Buffer.from(t.hash, 'hex'), given));
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { tenantId: valid ? tenantId : undefined, until: Date.now() + this.cacheMs });
    return valid ? tenantId : undefined;
  }
}
