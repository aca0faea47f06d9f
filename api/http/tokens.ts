/** Tenant API tokens: issue, verify, revoke. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { isValidId, tenantBudgetWorkflowId } from '../../workflows/domain/ids';
import { authTokensQuery, issueTokenUpdate, revokeTokenUpdate } from '../../workflows/messages/tenant-budget';
import { UserError } from '../client';
import { TenantNotPlaced, tenantClient } from '../client/directory';
import { SharedFetches } from '../../infra/shared-fetch';
import { updateAskingAgain } from '../client/entity-update';

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
    const entity = client.workflow.getHandle(tenantBudgetWorkflowId(tenantId));
    const issued = await updateAskingAgain((updateId) =>
      entity.executeUpdate(issueTokenUpdate, { updateId, args: [{ id, hash: hashToken(token) }] }),
    );
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
    const entity = client.workflow.getHandle(tenantBudgetWorkflowId(tenantId));
    return (
      await updateAskingAgain((updateId) =>
        entity.executeUpdate(revokeTokenUpdate, { updateId, args: [{ id: tokenId }] }),
      )
    ).revoked;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`unknown tenant ${tenantId}`, 'NOT_FOUND');
    throw err;
  }
}

/**
 * Checks bearer tokens against their tenants' entities. One query of a tenant's entity fetches all
 * its active token hashes, and every request of that tenant waiting meanwhile shares it: fifty
 * clients arriving at once with twenty new tokens cost the entity one query, not fifty (and one at a
 * time is what an entity busy with admission answers promptly). A token in a list begun at most
 * `cacheMs` ago is valid without another query, so a revoked token stops working within `cacheMs`.
 * A token missing from that list is looked for in a list begun after it was presented (it may just
 * have been issued); a token in neither is refused, and refused again for `cacheMs` without a query.
 */
export class TokenVerifier {
  private readonly lists = new SharedFetches<Set<string>>();
  private readonly refused = new Map<string, number>();

  constructor(
    private readonly fetchHashes: (tenantId: string) => Promise<string[]>,
    private readonly cacheMs: number,
  ) {}

  /**
   * A verifier that asks each tenant's entity for its active tokens (in a deployment of regions, in
   * the tenant's namespace; a tenant whose data this region does not hold is told where it lives).
   */
  static forClient(client: Client, cacheMs: number): TokenVerifier {
    return new TokenVerifier(async (tenantId) => {
      try {
        const tenant = await tenantClient(client, tenantId);
        const active = await tenant.workflow.getHandle(tenantBudgetWorkflowId(tenantId)).query(authTokensQuery);
        return active.map((t) => t.hash);
      } catch (err) {
        // A tenant that does not exist has no token.
        if (err instanceof WorkflowNotFoundError || err instanceof TenantNotPlaced) return [];
        throw err;
      }
    }, cacheMs);
  }

  /** The tenant the token belongs to, or undefined for a token that is not valid. */
  async verify(token: string): Promise<string | undefined> {
    const tenantId = tokenTenant(token);
    if (!tenantId) return undefined;
    const hash = hashToken(token);
    const presented = this.lists.mark();
    const presentedAt = Date.now();
    if ((this.refused.get(hash) ?? 0) > presentedAt) return undefined;
    const recent = this.lists.latest(tenantId);
    if (recent && presentedAt - recent.startedAt <= this.cacheMs) {
      const hashes = await recent.value.catch(() => undefined);
      if (hashes && holds(hashes, hash)) return tenantId;
    }
    const fetch = () => this.fetchHashes(tenantId).then((listed) => new Set(listed));
    if (holds(await this.lists.after(tenantId, presented, fetch), hash)) return tenantId;
    if (this.refused.size >= 10_000) this.refused.clear();
    if (this.cacheMs > 0) this.refused.set(hash, Date.now() + this.cacheMs);
    return undefined;
  }
}

/** Whether the set holds the hash, compared in constant time with every member. */
function holds(hashes: Set<string>, hash: string): boolean {
  const given = Buffer.from(hash, 'hex');
  let found = false;
  for (const h of hashes) found = timingSafeEqual(Buffer.from(h, 'hex'), given) || found;
  return found;
}
