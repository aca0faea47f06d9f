import pino from 'pino';

/**
 * One pino logger for the process, writing JSON lines to stderr (stdout stays free for command
 * output); children add tenantId / runId / nodeId.
 */
export const logger = pino(
  { name: 'ados', level: process.env.ADOS_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
  pino.destination(2),
);
