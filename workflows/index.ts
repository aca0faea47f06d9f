/**
 * The workflow types, each loaded on its first call. The SDK's reusable V8 context gives every
 * workflow execution a module cache of its own, so whatever a type's module imports is evaluated
 * again for each run, and for each replay after the run left the worker's cache: importing every
 * type here would make a bare run evaluate zod and ADOS's schemas, and a delivery run the entity's
 * modules. Loading a type's module when it is first called keeps each execution to what it uses
 * (a delivery run no longer evaluates the entity, the learning or the alert modules; a bare run
 * evaluates nothing of ADOS's). Loading a module issues no command, so replay is unaffected.
 */
import type * as DeliveryRun from './delivery-run';
import type * as TenantBudget from './tenant-budget';
import type * as ExportDeliveryRun from './export-delivery-run';
import type * as SweepExports from './sweep-exports';
import type * as MetaLearning from './meta-learning';
import type * as ShadowExploration from './shadow-exploration';
import type * as BareDag from './bare-dag';
import type * as BudgetAlert from './budget-alert';
import type * as TenantPlacement from './tenant-placement';
import type * as PriorsExchange from './priors-exchange';

export const deliveryRun: typeof DeliveryRun.deliveryRun = (...args) =>
  (require('./delivery-run') as typeof DeliveryRun).deliveryRun(...args);
export const tenantBudget: typeof TenantBudget.tenantBudget = (...args) =>
  (require('./tenant-budget') as typeof TenantBudget).tenantBudget(...args);
export const exportDeliveryRun: typeof ExportDeliveryRun.exportDeliveryRun = (...args) =>
  (require('./export-delivery-run') as typeof ExportDeliveryRun).exportDeliveryRun(...args);
export const sweepExports: typeof SweepExports.sweepExports = (...args) =>
  (require('./sweep-exports') as typeof SweepExports).sweepExports(...args);
export const metaLearning: typeof MetaLearning.metaLearning = (...args) =>
  (require('./meta-learning') as typeof MetaLearning).metaLearning(...args);
export const shadowExploration: typeof ShadowExploration.shadowExploration = (...args) =>
  (require('./shadow-exploration') as typeof ShadowExploration).shadowExploration(...args);
export const bareDag: typeof BareDag.bareDag = (...args) => (require('./bare-dag') as typeof BareDag).bareDag(...args);
export const budgetAlert: typeof BudgetAlert.budgetAlert = (...args) =>
  (require('./budget-alert') as typeof BudgetAlert).budgetAlert(...args);
export const tenantPlacement: typeof TenantPlacement.tenantPlacement = (...args) =>
  (require('./tenant-placement') as typeof TenantPlacement).tenantPlacement(...args);
export const priorsExchange: typeof PriorsExchange.priorsExchange = (...args) =>
  (require('./priors-exchange') as typeof PriorsExchange).priorsExchange(...args);
