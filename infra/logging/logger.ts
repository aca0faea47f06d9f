/** The process's pino logger. */
import pino from 'pino';
import { settingsOrDefaults } from '../config';
import { redactingLoggerOptions } from './redaction';

/**
 * One pino logger for the process, writing JSON lines to stderr (stdout stays free for command
 * output); children add tenantId / runId / nodeId. Tokens, secrets and key material are redacted
 * from every line (infra/logging/redaction.ts); the HTTP servers log through children of it.
 */
export const logger = pino(
  { name: 'ados', level: settingsOrDefaults().ADOS_LOG_LEVEL, base: { pid: process.pid }, ...redactingLoggerOptions() },
  pino.destination(2),
);
