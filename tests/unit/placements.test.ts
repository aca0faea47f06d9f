import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { placementNamespace, placementRegions, placementsOf, regionNames } from '../../infra/cluster/regions';
import { namespaceOf } from '../../api/client/directory';
import { describePlacement, samePlacement } from '../../workflows/domain/tenant/placement';

test('every placement of a deployment: each set of regions with each member as home, its namespace read back to its regions', () => {
  const placements = placementsOf(['eu', 'us']);
  assert.deepEqual(placements.map(placementNamespace), ['ados-eu', 'ados-us', 'ados-eu-us', 'ados-us-eu']);
  fc.assert(
    fc.property(fc.uniqueArray(fc.constantFrom('eu', 'us', 'ap', 'sa'), { minLength: 2, maxLength: 4 }), (regions) => {
      const all = placementsOf(regions);
      // 1..n regions in a placement, each of them home: Σ k·C(n,k) = n·2^(n-1).
      assert.equal(all.length, regions.length * 2 ** (regions.length - 1));
      for (const p of all) {
        assert.equal(p.regions[0], p.home);
        assert.deepEqual(placementRegions(placementNamespace(p)), p.regions);
      }
      assert.equal(new Set(all.map(placementNamespace)).size, all.length);
    }),
  );
});

test('names that are not placement namespaces are told apart', () => {
  for (const name of [
    'default',
    'ados',
    'ados-',
    'ados-EU',
    'ados-eu-eu',
    'other-eu',
    'ados-eu-us-ap-sa-af',
    'ados-1eu',
  ])
    assert.equal(placementRegions(name), undefined, name);
});

test('--regions: bad lists are refused with what is wrong', () => {
  assert.deepEqual(regionNames('eu, us'), ['eu', 'us']);
  assert.throws(() => regionNames('eu'), /2 to 4 regions/);
  assert.throws(() => regionNames('eu,eu'), /names a region twice/);
  assert.throws(() => regionNames('eu,US'), /lower-case letter.*"US"/);
  assert.throws(() => regionNames('eu,directory'), /names ADOS's directory namespace/);
});

test("a placement given in any order finds the deployment's namespace for it; another home or set does not", () => {
  const namespaces = ['ados-directory', 'ados-eu', 'ados-eu-us-ap', 'ados-us-eu-ap', 'ados-eu-us'];
  assert.equal(namespaceOf({ home: 'eu', regions: ['ap', 'us', 'eu'] }, namespaces), 'ados-eu-us-ap');
  assert.equal(namespaceOf({ home: 'us', regions: ['eu', 'ap', 'us'] }, namespaces), 'ados-us-eu-ap');
  assert.equal(namespaceOf({ home: 'eu', regions: ['eu'] }, namespaces), 'ados-eu');
  assert.equal(namespaceOf({ home: 'ap', regions: ['ap', 'eu', 'us'] }, namespaces), undefined);
  assert.equal(namespaceOf({ home: 'eu', regions: ['eu', 'ap'] }, namespaces), undefined);
  assert.equal(describePlacement({ home: 'eu', regions: ['eu', 'us'] }), 'eu (copies in us)');
  assert.equal(describePlacement({ home: 'eu', regions: ['eu'] }), 'eu only');
  assert.equal(samePlacement({ home: 'eu', regions: ['eu', 'us'] }, { home: 'eu', regions: ['us', 'eu'] }), true);
  assert.equal(samePlacement({ home: 'eu', regions: ['eu', 'us'] }, { home: 'us', regions: ['us', 'eu'] }), false);
});
