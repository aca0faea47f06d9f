/** The codec server: Temporal's remote codec protocol, for the Web UI and the Temporal CLI. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import {
  KeyRingCodec,
  PayloadKeyError,
  payloadFromJson,
  payloadToJson,
  type JsonPayload,
} from '../../infra/payload-codec';
import { loadConfig } from '../../infra/config';
import { freePort, portIsFree } from '../../infra/ports';
import { TokenVerifier, hashToken } from '../http/tokens';
import { tenantBudgetWorkflowId } from '../../workflows/domain/ids';

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
  const tokens = TokenVerifier.forClient(client, tokenCacheMs);
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
    // Protobuf JSON leaves an empty list out: the Temporal CLI sends {} for a query without arguments.
    if (!body || typeof body !== 'object' || (body.payloads !== undefined && !Array.isArray(body.payloads)))
      return reply
        .code(400)
        .send({ error: 'INVALID_INPUT', message: 'the body is { payloads: [{ metadata, data }] }' });
    const payloads = ((body.payloads ?? []) as JsonPayload[]).map(payloadFromJson);
    if (op === 'encode') {
      const context =
        caller.role === 'tenant'
          ? { type: 'workflow' as const, namespace: '', workflowId: tenantBudgetWorkflowId(caller.tenantId) }
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

export const CODEC_SERVER_PORT = 8081;

/**
 * What a dev server on this machine gets beside it (`ados dev`, the demo, the tests' servers with a
 * Web UI): a codec server when payloads are sealed, none when they are not.
 */
export async function localCodecServerIfSealed(logger: Logger) {
  const config = loadConfig();
  return config.ADOS_PAYLOAD_CODEC === 'aes' ? planLocalCodecServer(config.ADOS_ADMIN_TOKEN, logger) : undefined;
}

/**
 * A codec server beside a dev server on this machine (`ados dev`, the demo), so its Web UI shows
 * decoded payloads: the UI's codec endpoint must be known before the dev server starts, so the port
 * and token are chosen first (8081 when free) and the server is served once a client exists. The
 * token is ADOS_ADMIN_TOKEN, or one made for this process; the UI carries it in the path, so the
 * server listens on 127.0.0.1 only.
 */
export async function planLocalCodecServer(adminToken: string | undefined, logger: Logger) {
  const port = (await portIsFree(CODEC_SERVER_PORT)) ? CODEC_SERVER_PORT : await freePort();
  const token = adminToken ?? `ados-dev.${randomBytes(18).toString('base64url')}`;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    /** For the Web UI (`--ui-codec-endpoint`). */
    uiEndpoint: `${url}/t/${token}`,
    /** For the Temporal CLI: every `temporal` command then shows and sends decoded payloads. */
    cliEnv: { TEMPORAL_CODEC_ENDPOINT: url, TEMPORAL_CODEC_AUTH: `Bearer ${token}` },
    /**
     * The same, as printed for the user: a session token as it is (it exists for this session only),
     * the deployment's ADOS_ADMIN_TOKEN by reference, so that it never lands in a terminal log.
     */
    shownCliEnv: {
      TEMPORAL_CODEC_ENDPOINT: url,
      TEMPORAL_CODEC_AUTH: adminToken ? 'Bearer $ADOS_ADMIN_TOKEN' : `Bearer ${token}`,
    },
    /** Serves until the returned function is called. */
    async serve(client: Client, corsOrigin: string): Promise<() => Promise<void>> {
      // Quiet beside the dev server: warnings and errors only.
      const app = await buildCodecServer({
        client,
        adminToken: token,
        corsOrigin,
        logger: logger.child({ component: 'codec-server' }, { level: 'warn' }),
      });
      await app.listen({ port, host: '127.0.0.1' });
      return () => app.close();
    },
  };
}
