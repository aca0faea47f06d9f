/**
 * Each opted-in tenant's privacy budget for the cross-tenant priors. Releases compose by basic
 * (sequential) composition: a tenant whose data entered k releases within an accounting period has
 * lost at most k · ε there. Every release is charged to every tenant whose data entered it; a
 * tenant that cannot pay ε more without passing its total leaves releases until its account renews
 * (one accounting period after the account was opened or last renewed). Pure: the metaLearning
 * workflow keeps the accounts in its state.
 */

export interface PrivacyAccount {
  /** ε charged since `since`. */
  spent: number;
  /** Start of the account's current accounting period. */
  since: string;
  /** Releases its data entered since `since`. */
  releases: number;
}

export type PrivacyAccounts = Record<string, PrivacyAccount>;

export interface PrivacyBudgetConfig {
  /** ε per release. */
  epsilon: number;
  /** Most ε a tenant's data may lose per accounting period. */
  epsilonTotal: number;
  /** Length of a tenant's accounting period, in seconds. */
  accountingSeconds: number;
}

/** Float sums of ε must not refuse the last release that fits: 0.1 × 10 is 0.9999999999999999. */
const SLACK = 1e-9;

/** The account as it stands at `now`: renewed (spent back to 0) once its period is over. */
export function accountAt(
  account: PrivacyAccount | undefined,
  config: PrivacyBudgetConfig,
  now: string,
): PrivacyAccount {
  if (!account) return { spent: 0, since: now, releases: 0 };
  const periodMs = config.accountingSeconds * 1000;
  const elapsed = Date.parse(now) - Date.parse(account.since);
  if (elapsed < periodMs) return account;
  // Renewed at the start of the period `now` falls in, counted from the account's first one.
  const since = new Date(Date.parse(account.since) + Math.floor(elapsed / periodMs) * periodMs).toISOString();
  return { spent: 0, since, releases: 0 };
}

/** Whether the tenant's data may enter a release now. */
export function hasRoom(account: PrivacyAccount | undefined, config: PrivacyBudgetConfig, now: string): boolean {
  return accountAt(account, config, now).spent + config.epsilon <= config.epsilonTotal + SLACK;
}

/** Charges one release's ε to each tenant whose data entered it. */
export function chargeRelease(
  accounts: PrivacyAccounts,
  tenants: readonly string[],
  config: PrivacyBudgetConfig,
  now: string,
): void {
  for (const tenantId of tenants) {
    const account = accountAt(accounts[tenantId], config, now);
    accounts[tenantId] = {
      spent: account.spent + config.epsilon,
      since: account.since,
      releases: account.releases + 1,
    };
  }
}

export interface PrivacyStanding {
  tenantId: string;
  epsilonSpent: number;
  epsilonLeft: number;
  releases: number;
  /** When the account renews (spent back to 0). */
  renewsAt: string;
  /** True while its data is left out of releases. */
  atCap: boolean;
}

export function standing(
  tenantId: string,
  accounts: PrivacyAccounts,
  config: PrivacyBudgetConfig,
  now: string,
): PrivacyStanding {
  const account = accountAt(accounts[tenantId], config, now);
  const spent = round6(account.spent);
  return {
    tenantId,
    epsilonSpent: spent,
    epsilonLeft: round6(Math.max(0, config.epsilonTotal - spent)),
    releases: account.releases,
    renewsAt: new Date(Date.parse(account.since) + config.accountingSeconds * 1000).toISOString(),
    atCap: !hasRoom(accounts[tenantId], config, now),
  };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
