export { deliveryRun } from './delivery-run';
export { tenantBudget } from './tenant-budget';
