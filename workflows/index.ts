export { deliveryRun } from './delivery-run';
export { tenantBudget } from './tenant-budget';
export { exportDeliveryRun } from './export-delivery-run';
export { sweepExports } from './sweep-exports';
export { metaLearning } from './meta-learning';
export { shadowExploration } from './shadow-exploration';
export { bareDag } from './bare-dag';
export { budgetAlert } from './budget-alert';
