/** Temporal's runtime and workflow logs through the process's pino logger. */
import { Runtime, makeTelemetryFilterString, type Logger, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger as Pino } from 'pino';
import { logger as root } from './logger';
import { parseDeliveryRunWorkflowId, parseTenantBudgetWorkflowId } from '../../workflows/domain/ids';

/** Adds tenantId and runId from a workflow id, so SDK and workflow logs carry them as fields. */
function withIds(meta: LogMetadata = {}): LogMetadata {
  if (typeof meta.workflowId !== 'string') return meta;
  const run = parseDeliveryRunWorkflowId(meta.workflowId);
  if (run) return { ...meta, ...run };
  const tenantId = parseTenantBudgetWorkflowId(meta.workflowId);
  return tenantId ? { ...meta, tenantId } : meta;
}

/** Temporal's runtime logger, writing pino JSON lines. */
class PinoTemporalLogger implements Logger {
  constructor(private readonly pino: Pino) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    // Node workers host no workflows by design; the SDK's warning about it is expected.
    if (message.startsWith('No workflows registered')) level = 'DEBUG';
    const method = ({ TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const)[level];
    this.pino[method](withIds(meta), message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

let installed = false;

/**
 * Routes the SDK's and workflows' logs through pino, and with `prometheusBindAddress` has the SDK
 * export its runtime metrics there; call once, before the first worker is created.
 */
export function installTemporalLogging(
  level: 'debug' | 'info' | 'warn' | 'error' = 'info',
  prometheusBindAddress?: string,
  /**
   * The native core writes its own logs to stdout, WARN and above by default. A command whose
   * stdout is its answer (`ados replay --json`, which fails workflow tasks on purpose) lets only
   * ERROR through. (Forwarding them to pino instead keeps a process that never made a worker alive.)
   */
  coreConsole: 'WARN' | 'ERROR' = 'WARN',
): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new PinoTemporalLogger(root.child({ component: 'temporal' }, { level })),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: coreConsole }), console: {} },
      ...(prometheusBindAddress ? { metrics: { prometheus: { bindAddress: prometheusBindAddress } } } : {}),
    },
  });
}
