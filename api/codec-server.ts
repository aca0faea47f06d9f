import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import {
  KeyRingCodec,
  PayloadKeyError,
  payloadFromJson,
  payloadToJson,
  type JsonPayload,
} from '../infra/payload-codec';
import { TokenVerifier, hashToken } from './http/tokens';

/**
 * `ados codec-server`: Temporal's remote codec protocol (`POST /encode`, `POST /decode`, bodies
 * `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`) over the deployment's key ring, so
 * the Web UI and `temporal … --codec-endpoint` show decoded payloads to those allowed to see them.
 *
 * Every call needs a token, as `Authorization: Bearer <token>` (the Temporal CLI's `--codec-auth`,
 * the Web UI's `passAccessToken`) or in the path, `/t/<token>/decode` (a Web UI that sends no
 * header): the admin token decodes everything; a tenant token decodes only payloads sealed for its
 * tenant, and encodes for it alone. CORS answers the Web UI's origin.
 */

export interface CodecServerOptions {
  client: Client;
  adminToken: string | undefined;
  /** The Web UI's origin, e.g. http://localhost:8233. */
  corsOrigin: string;
  logger: Logger;
  tokenCacheMs?: number;
}

type Caller = { role: 'admin' } | { role: 'tenant'; tenantId: string };

export async function buildCodecServer({
  client,
  adminToken,
  corsOrigin,
  logger,
  tokenCacheMs = 10_000,
}: CodecServerOptions) {
  const app = Fastify({ loggerInstance: logger, bodyLimit: 16 * 1024 * 1024 });
  const codec = new KeyRingCodec();
  const tokens = new TokenVerifier(client, tokenCacheMs);
  const admin = adminToken ? Buffer.from(hashToken(adminToken), 'hex') : undefined;
  const origin = new URL(corsOrigin).origin;

  const cors = (reply: FastifyReply) =>
    reply
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-credentials', 'true')
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'content-type, x-namespace, authorization')
      .header('vary', 'origin');

  async function callerOf(request: FastifyRequest, pathToken: string | undefined): Promise<Caller | undefined> {
    const header = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const token = header ?? pathToken;
    if (!token) return undefined;
    if (admin && timingSafeEqual(Buffer.from(hashToken(token), 'hex'), admin)) return { role: 'admin' };
    const tenantId = await tokens.verify(token);
    return tenantId ? { role: 'tenant', tenantId } : undefined;
  }

  const handle = (op: 'encode' | 'decode') => async (request: FastifyRequest, reply: FastifyReply) => {
    cors(reply);
    const caller = await callerOf(request, (request.params as { token?: string }).token);
    if (!caller)
      return reply
        .code(401)
        .send({ error: 'UNAUTHORIZED', message: 'a token is needed: the admin token or a tenant token' });
    const body = request.body as { payloads?: unknown } | undefined;
    if (!body || !Array.isArray(body.payloads))
      return reply
        .code(400)
        .send({ error: 'INVALID_INPUT', message: 'the body is { payloads: [{ metadata, data }] }' });
    const payloads = (body.payloads as JsonPayload[]).map(payloadFromJson);
    if (op === 'encode') {
      const context =
        caller.role === 'tenant'
          ? { type: 'workflow' as const, namespace: '', workflowId: `tenant-budget:${caller.tenantId}` }
          : undefined;
      return { payloads: (await codec.encode(payloads, context)).map(payloadToJson) };
    }
    if (caller.role === 'tenant') {
      const foreign = payloads.find((p) => {
        const scope = p.metadata?.['encryption-scope'];
        return scope !== undefined && Buffer.from(scope).toString() !== caller.tenantId;
      });
      if (foreign)
        return reply.code(403).send({
          error: 'FORBIDDEN',
          message: `a ${caller.tenantId} token decodes only ${caller.tenantId}'s payloads`,
        });
    }
    try {
      return { payloads: (await codec.decode(payloads)).map(payloadToJson) };
    } catch (err) {
      if (err instanceof PayloadKeyError) return reply.code(422).send({ error: 'KEY_MISSING', message: err.message });
      throw err;
    }
  };

  for (const prefix of ['', '/t/:token']) {
    app.options(`${prefix}/encode`, async (_request, reply) => cors(reply).code(204).send());
    app.options(`${prefix}/decode`, async (_request, reply) => cors(reply).code(204).send());
    app.post(`${prefix}/encode`, handle('encode'));
    app.post(`${prefix}/decode`, handle('decode'));
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
