import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  AUTOSCALE_DEFAULTS,
  decideProcesses,
  initialAutoscaleState,
  parseProcessRange,
  type AutoscaleSettings,
  type QueueLoad,
} from '../../workers/autoscale/policy';

const settings: AutoscaleSettings = { min: 1, max: 4, slotsPerProcess: 20, ...AUTOSCALE_DEFAULTS };

/** Runs the policy over samples one `stepMs` apart; the targets after each. */
function follow(
  s: AutoscaleSettings,
  samples: Array<QueueLoad | QueueLoad[]>,
  state = initialAutoscaleState(s, 0),
  stepMs = 1000,
) {
  return samples.map((sample, i) => {
    const queues = Array.isArray(sample) ? sample : [sample];
    const decision = decideProcesses(s, state, { queues, at: (i + 1) * stepMs });
    state = decision.state;
    return { at: (i + 1) * stepMs, ...decision };
  });
}

const sampleArb = fc.record(
  {
    backlog: fc.integer({ min: 0, max: 400 }),
    backlogAgeMs: fc.integer({ min: 0, max: 10_000 }),
    running: fc.integer({ min: 0, max: 100 }),
    // Not followed, none left, or some node-seconds ahead.
    work: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
    scheduled: fc.integer({ min: 0, max: 150 }),
  },
  { requiredKeys: ['backlog', 'backlogAgeMs', 'running'] },
);

describe('the autoscaling policy', () => {
  test('a burst grows the target at once to what the backlog needs; idle shrinks it one process per cool-down', () => {
    const burst = Array.from({ length: 10 }, () => ({ backlog: 200, backlogAgeMs: 3000, running: 20 }));
    const idle = Array.from({ length: 200 }, () => ({ backlog: 0, backlogAgeMs: 0, running: 0 }));
    const steps = follow(settings, [...burst, ...idle]);
    // At the first sample, straight to MAX: 220 nodes need 11.
    assert.equal(steps[0]!.state.target, 4);
    assert.equal(steps[0]!.reason, 'backlog');
    const downs = steps.filter((s) => s.reason === 'idle').map((s) => s.at);
    // Three steps down, 30 s apart, the first 30 s after the calm began (the first idle sample, at 11 s).
    assert.deepEqual(downs, [41_000, 71_000, 101_000]);
    assert.equal(steps.at(-1)!.state.target, 1);
  });

  test('a need that grows while processes start is followed at once: a second step up needs no cool-down, a step up after a step down does', () => {
    const rising = [
      { backlog: 25, backlogAgeMs: 500, running: 0 },
      { backlog: 60, backlogAgeMs: 1500, running: 20 },
    ];
    const steps = follow(settings, rising);
    assert.deepEqual(
      steps.map((s) => [s.state.target, s.reason]),
      [
        [2, 'backlog'],
        [4, 'backlog'],
      ],
    );
    // Just after a step down (at 0 s, to 2), the same rising need waits out the 5-s up cool-down:
    // the need for 4 at 2 s and 4 s is held; at 6 s, past it, the target goes up.
    const afterDown = follow(settings, [...rising, ...rising, ...rising], { target: 2, changedAt: 0, stepped: 'down' });
    assert.deepEqual(
      afterDown.map((s) => [s.state.target, s.needed]),
      [
        [2, 2],
        [2, 4],
        [2, 2],
        [2, 4],
        [2, 2],
        [4, 4],
      ],
    );
  });

  test('with the admitted work followed: held while work is ahead, down to MIN at once when none is left', () => {
    const burst = Array.from({ length: 10 }, () => ({ backlog: 200, backlogAgeMs: 3000, running: 20, work: 400 }));
    // Nothing waits or runs for a minute, but admitted runs still have 1000 node-seconds ahead (between
    // their nodes): more than three processes at 50% do in a 30-s cool-down (3 × 20 × 0.5 × 30 = 900).
    const between = Array.from({ length: 60 }, () => ({ backlog: 0, backlogAgeMs: 0, running: 0, work: 1000 }));
    const drained = Array.from({ length: 20 }, () => ({ backlog: 0, backlogAgeMs: 0, running: 0, work: 0 }));
    const steps = follow(settings, [...burst, ...between, ...drained]);
    assert.equal(steps[9]!.state.target, 4);
    // 1000 node-seconds ahead keep all four: none of the 60 quiet samples steps down.
    assert.ok(steps.slice(10, 70).every((s) => s.state.target === 4));
    // Drained from 71 s: MIN 3 s later (drainMs), in one step.
    const down = steps.slice(10).filter((s) => s.state.target !== 4);
    assert.equal(down[0]!.at, 74_000);
    assert.equal(down[0]!.reason, 'drained');
    assert.equal(down[0]!.state.target, 1);
    // Without the work followed, the same quiet minute steps down by the calm rule instead.
    const unfollowed = follow(
      settings,
      [...burst, ...between, ...drained].map(({ work: _work, ...q }) => q),
    );
    assert.ok(unfollowed.some((s) => s.reason === 'idle'));
    assert.ok(!unfollowed.some((s) => s.reason === 'drained'));
  });

  test("with the admitted work followed, the runs' scheduled nodes not yet running count as waiting before Temporal's statistics show them", () => {
    // Temporal's cached statistics still say 0; the runs have 45 nodes scheduled and 10 running.
    const steps = follow(settings, [{ backlog: 0, backlogAgeMs: 0, running: 10, work: 90, scheduled: 45 }], {
      target: 1,
      changedAt: -10_000,
    });
    assert.equal(steps[0]!.reason, 'backlog');
    assert.equal(steps[0]!.state.target, 3); // 45 nodes at 20 slots a process
    // Without the work followed, the same instant holds: nothing waits as far as Temporal says.
    const blind = follow(settings, [{ backlog: 0, backlogAgeMs: 0, running: 10 }], { target: 1, changedAt: -10_000 });
    assert.equal(blind[0]!.reason, 'hold');
  });

  test('after a burst, a steady load below capacity settles on one number: no flapping', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), (running) => {
        const steps = follow(
          settings,
          Array.from({ length: 300 }, () => ({ backlog: 0, backlogAgeMs: 0, running })),
          { target: settings.max, changedAt: 0 },
        );
        const targets = steps.map((s) => s.state.target);
        // Only downward steps, each to one less, and never below what the load needs at 50%.
        for (let i = 1; i < targets.length; i++)
          assert.ok(targets[i]! === targets[i - 1]! || targets[i]! === targets[i - 1]! - 1);
        assert.ok(targets.at(-1)! >= Math.min(settings.max, Math.max(settings.min, Math.ceil(running / 10))));
      }),
    );
  });

  test('property: the target stays in MIN..MAX, rises only when nodes wait, falls by one only when calm (and the admitted work fits) or to MIN only when drained, never rises within a cool-down of a fall, never falls within one of any change', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.array(sampleArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 200 }),
        (min, extra, samples) => {
          const s = { ...settings, min, max: min + extra };
          const steps = follow(s, samples);
          let previous: { target: number; changedAt: number; stepped?: 'up' | 'down' } = { target: min, changedAt: 0 };
          steps.forEach((step, i) => {
            const { target } = step.state;
            const queues = samples[i]!;
            assert.ok(target >= s.min && target <= s.max);
            const waitingOn = (q: QueueLoad) => Math.max(q.backlog, (q.scheduled ?? 0) - q.running);
            if (target > previous.target) {
              assert.ok(queues.some((q) => waitingOn(q) > 0));
              // Up after down only past the up cool-down; up after up as the need grows.
              if (previous.stepped === 'down') assert.ok(step.at - previous.changedAt >= s.upCooldownMs);
            }
            if (target < previous.target) {
              assert.ok(queues.every((q) => waitingOn(q) === 0));
              if (step.reason === 'drained') {
                // Straight to MIN only when ADOS knows no admitted run has a node left.
                assert.equal(target, s.min);
                assert.ok(queues.every((q) => q.running === 0 && q.work === 0));
                assert.ok(step.at - previous.changedAt >= s.upCooldownMs);
              } else {
                assert.equal(target, previous.target - 1);
                assert.ok(step.at - previous.changedAt >= s.downCooldownMs);
                const fewer = (previous.target - 1) * s.slotsPerProcess * s.downUtilization;
                assert.ok(queues.every((q) => q.work === undefined || q.work <= (fewer * s.downCooldownMs) / 1000));
              }
            }
            if (target !== previous.target)
              previous = { target, changedAt: step.at, stepped: target > previous.target ? 'up' : 'down' };
          });
        },
      ),
    );
  });

  test('MIN..MAX is read from the command line, and a bad range names the problem', () => {
    assert.deepEqual(parseProcessRange('1..4'), { min: 1, max: 4 });
    assert.throws(() => parseProcessRange('4'), /MIN\.\.MAX/);
    assert.throws(() => parseProcessRange('0..2'), /MIN must be at least 1/);
    assert.throws(() => parseProcessRange('3..2'), /MAX \(2\) must be at least MIN \(3\)/);
  });
});
