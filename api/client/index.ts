/**
 * The client's side of ADOS, as the CLI, the HTTP API, the demo and the TypeScript client use it:
 * the connection, tenants, runs (with the one launch and admission, ./launch.ts and ./admission/)
 * and reports. Users import `AdosClient` (./ados-client.ts).
 */
export { UserError, connectClient, temporalNamespace } from './connection';
export { CONFIGURE_TIMEOUT_MS, configureTenant, tenantStatus } from './tenants';
export {
  checkRunInput,
  quote,
  runHandle,
  runOutcome,
  runProgress,
  startRun,
  type RunAdmission,
  type StartedRun,
} from './runs';
export { tenantReport } from './reports';
