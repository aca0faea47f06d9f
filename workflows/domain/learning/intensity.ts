/** How hard a tenant learns: the intensities, and the budget share and exploration rate each gives by default. */

export const INTENSITIES = ['CONSERVATIVE', 'BALANCED', 'AGGRESSIVE'] as const;
export type Intensity = (typeof INTENSITIES)[number];
export const DEFAULT_BUDGET_SHARES: Record<Intensity, number> = { CONSERVATIVE: 0.05, BALANCED: 0.1, AGGRESSIVE: 0.2 };
/** Share of admitted runs that explore a cheaper variant in shadow. CONSERVATIVE never explores. */
export const DEFAULT_EXPLORATION_RATES: Record<Intensity, number> = { CONSERVATIVE: 0, BALANCED: 0.2, AGGRESSIVE: 0.5 };
