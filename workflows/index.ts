export { deliveryRun } from './delivery-run';
export { tenantBudget } from './tenant-budget';
export { exportDeliveryRun } from './export-delivery-run';
export { sweepExports } from './sweep-exports';
