/** What logs never carry: tokens, secrets and credentials, redacted. */
import pino, { type LoggerOptions } from 'pino';

/**
 * What no ADOS log line may carry: bearer tokens (the admin token, tenant tokens), alert signing
 * secrets, key material. Every process logs through one pino root (infra/logging/logger.ts) built with
 * these options, and Fastify (the API, the codec server) takes its child as its logger, so its
 * request lines use the serializers below too.
 */

/** Query parameters whose values are credentials, wherever a client puts them. */
const SECRET_PARAM = /token|key|secret|auth|sig|pass|credential/i;
const REDACTED = '[redacted]';

/**
 * A request URL fit for a log: the codec server's path token (`/t/<token>/…`) and every
 * credential-looking query parameter replaced by `[redacted]`; the rest kept for debugging.
 */
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return url;
  const [path = '', query] = url.split(/\?(.*)/s, 2);
  const safePath = path.replace(/\/t\/[^/]+/g, `/t/${REDACTED}`);
  if (query === undefined) return safePath;
  const params = new URLSearchParams(query);
  for (const key of new Set(params.keys())) if (SECRET_PARAM.test(key)) params.set(key, REDACTED);
  return `${safePath}?${params.toString().replace(/%5Bredacted%5D/g, REDACTED)}`;
}

/** Fastify's request line (method, url, host, remote address), with the URL redacted. */
function requestValue(req: {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * Fields removed from any logged object: headers that carry credentials (logged requests, gRPC
 * metadata), and fields named after secrets at the top level and one level down (a logged config,
 * tenant settings, an alert).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  '*.authorization',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'alerts.secret',
  '*.alerts.secret',
  'secretSealed',
  '*.secretSealed',
  'apiKey',
  '*.apiKey',
  'ADOS_ADMIN_TOKEN',
  '*.ADOS_ADMIN_TOKEN',
  'ADOS_KEYRING',
  '*.ADOS_KEYRING',
  'keys',
  '*.keys',
];

/** The options every ADOS pino root is built with. */
export function redactingLoggerOptions(): Pick<LoggerOptions, 'redact' | 'serializers'> {
  return {
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: { req: requestValue, err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
}
