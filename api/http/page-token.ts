/** The HTTP API's page tokens for run lists. */
import { createHash } from 'node:crypto';
import { ApiError } from './errors';

/**
 * ADOS's page tokens wrap Temporal's: `v1.<filter hash>.<Temporal's token>`, base64url throughout.
 * A token that is not one of ours, or belongs to another listing (another tenant or status filter),
 * is a 400 at once instead of a slow failure inside Temporal.
 */
const PREFIX = 'v1';

function filterHash(filter: string): string {
  return createHash('sha256').update(filter).digest('base64url').slice(0, 16);
}

export function wrapPageToken(temporalToken: Uint8Array | null | undefined, filter: string): string | undefined {
  if (!temporalToken?.length) return undefined;
  return `${PREFIX}.${filterHash(filter)}.${Buffer.from(temporalToken).toString('base64url')}`;
}

export function unwrapPageToken(token: string, filter: string): Buffer {
  const [prefix, hash, inner, ...rest] = token.split('.');
  if (prefix !== PREFIX || !hash || !inner || rest.length || !/^[A-Za-z0-9_-]+$/.test(inner))
    throw new ApiError(400, 'INVALID_INPUT', 'invalid pageToken: pass back a nextPageToken this API returned', [
      'pageToken: not a page token of this API',
    ]);
  if (hash !== filterHash(filter))
    throw new ApiError(400, 'INVALID_INPUT', 'pageToken belongs to another listing (another tenant or status filter)', [
      'pageToken: issued for different filters',
    ]);
  return Buffer.from(inner, 'base64url');
}
