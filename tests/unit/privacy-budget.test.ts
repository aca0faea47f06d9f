import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accountAt,
  chargeRelease,
  hasRoom,
  standing,
  type PrivacyAccounts,
} from '../../workflows/domain/learning/privacy-budget';

const config = { epsilon: 0.1, epsilonTotal: 1, accountingSeconds: 3600 };

describe('privacy accounts', () => {
  test('basic composition: ten releases of ε 0.1 fill a total of 1 exactly; the account renews a period after it opened', () => {
    const accounts: PrivacyAccounts = {};
    const t0 = '2026-11-28T00:00:00.000Z';
    for (let i = 0; i < 10; i++) {
      assert.ok(hasRoom(accounts.a, config, t0), `release ${i + 1} fits`);
      chargeRelease(accounts, ['a'], config, t0);
    }
    assert.equal(hasRoom(accounts.a, config, t0), false, 'the eleventh does not');
    assert.deepEqual(standing('a', accounts, config, '2026-11-28T00:59:00.000Z'), {
      tenantId: 'a',
      epsilonSpent: 1,
      epsilonLeft: 0,
      releases: 10,
      renewsAt: '2026-11-28T01:00:00.000Z',
      atCap: true,
    });
    // Two and a half periods later: renewed at the start of the current one.
    assert.deepEqual(accountAt(accounts.a, config, '2026-11-28T02:30:00.000Z'), {
      spent: 0,
      since: '2026-11-28T02:00:00.000Z',
      releases: 0,
    });
    assert.ok(hasRoom(accounts.a, config, '2026-11-28T01:00:00.000Z'));
  });
});
