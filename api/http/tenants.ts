/** HTTP routes for tenants: configure, status, alerts. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { idSchema } from '../../workflows/domain/run/dag-schema';
import { tenantSettingsSchema } from '../../workflows/domain/tenant/tenant-config';
import { configureTenant, tenantStatus } from '../client';
import { placedTenantClient, tenantClient } from '../client/directory';
import { adminOnly } from './auth';
import { ApiError, adminErrors, commonErrors } from './errors';
import { asBody, errorBody, issuedTokenBody, revokedTokenBody, tenantStatusBody } from './schemas';
import { issueTenantToken, revokeTenantToken } from './tokens';

const tenantParams = z.object({ tenantId: idSchema });

/** A tenant's settings, and in a deployment of regions where a new tenant lives. */
const tenantPutBody = tenantSettingsSchema.extend({
  region: z
    .string()
    .optional()
    .describe("in a deployment of regions: a new tenant's home region (default: this API's region)"),
  replicas: z
    .array(z.string())
    .min(1)
    .max(4)
    .optional()
    .describe(
      'in a deployment of regions: every region that may hold its data, home included (default: the home alone)',
    ),
});

declare module 'fastify' {
  interface FastifyRequest {
    /** A PUT tenant body as sent, before zod filled in defaults. */
    rawPatch: unknown;
  }
}

/** Tenants: create or change, show, and their API tokens. */
export const tenantRoutes: FastifyPluginAsyncZod<{ client: Client; allowPrivateAlerts: boolean }> = async (
  api,
  { client, allowPrivateAlerts },
) => {
  api.decorateRequest('rawPatch', null);

  api.put(
    '/tenants/:tenantId',
    {
      schema: {
        operationId: 'configureTenant',
        summary: 'Create a tenant, or change the fields given (admin)',
        description:
          'Besides the schema: thresholds.warning must be below thresholds.critical, and alerts.webhookUrl must not be a private, loopback or link-local address unless the server runs with ADOS_ALERT_ALLOW_PRIVATE=true (else 400 naming the field). alerts.secret is sealed before it reaches Temporal and never shown again.',
        params: tenantParams,
        body: tenantPutBody,
        response: { 200: tenantStatusBody, 413: errorBody, ...adminErrors },
      },
      preHandler: adminOnly,
      // The patch as sent: the parsed body has defaults filled in, which would overwrite settings the caller kept.
      preValidation: async (request) => {
        request.rawPatch = request.body;
      },
    },
    async (request) => {
      const { region, replicas, ...patch } = request.rawPatch as { region?: string; replicas?: string[] };
      const { tenantId } = request.params;
      const placed = await placedTenantClient(client, tenantId, { home: region, replicas });
      return asBody(
        tenantStatusBody,
        await configureTenant(placed, tenantId, { ...patch, tenantId }, { allowPrivate: allowPrivateAlerts }),
      );
    },
  );

  api.get(
    '/tenants/:tenantId',
    {
      schema: {
        operationId: 'getTenant',
        summary: 'Budget status, utilization, spend by category, runs in flight and waiting, learning profile',
        params: tenantParams,
        response: { 200: tenantStatusBody, ...commonErrors },
      },
    },
    async (request) =>
      asBody(
        tenantStatusBody,
        await tenantStatus(await tenantClient(client, request.params.tenantId), request.params.tenantId),
      ),
  );

  api.post(
    '/tenants/:tenantId/tokens',
    {
      schema: {
        operationId: 'issueToken',
        summary: 'Issue a tenant token; shown once, stored only as its hash (admin)',
        params: tenantParams,
        response: {
          201: issuedTokenBody,
          409: errorBody.describe('the tenant holds its maximum of active tokens'),
          ...adminErrors,
        },
      },
      preHandler: adminOnly,
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await issueTenantToken(await tenantClient(client, request.params.tenantId), request.params.tenantId)),
  );

  api.delete(
    '/tenants/:tenantId/tokens/:tokenId',
    {
      schema: {
        operationId: 'revokeToken',
        summary: 'Revoke a tenant token (admin)',
        params: tenantParams.extend({ tokenId: z.string().regex(/^[a-z0-9]{1,32}$/) }),
        response: { 200: revokedTokenBody, ...adminErrors },
      },
      preHandler: adminOnly,
    },
    async (request) => {
      const { tenantId, tokenId } = request.params;
      const revoked = await revokeTenantToken(await tenantClient(client, tenantId), tenantId, tokenId);
      if (!revoked) throw new ApiError(404, 'NOT_FOUND', `no active token ${request.params.tokenId}`);
      return { revoked: true as const };
    },
  );
};
