import pino from 'pino';
import { settingsOrDefaults } from '../infra/config';

/**
 * One pino logger for the process, writing JSON lines to stderr (stdout stays free for command
 * output); children add tenantId / runId / nodeId.
 */
export const logger = pino(
  { name: 'ados', level: settingsOrDefaults().ADOS_LOG_LEVEL, base: { pid: process.pid } },
  pino.destination(2),
);
