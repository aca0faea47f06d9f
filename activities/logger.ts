import pino from 'pino';

/** One pino logger for the process; children add tenantId / runId / nodeId. */
export const logger = pino({
  name: 'ados',
  level: process.env.ADOS_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
});
