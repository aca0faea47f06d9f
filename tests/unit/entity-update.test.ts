import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { updateAskingAgain } from '../../api/client/entity-update';

/** The error Temporal gives an update it aborted because the workflow task carrying it failed (gRPC FAILED_PRECONDITION). */
const aborted = () =>
  Object.assign(
    new Error(
      '9 FAILED_PRECONDITION: Unable to perform workflow execution update due to unexpected workflow task failure.',
    ),
    { code: 9 },
  );

describe('entity updates', () => {
  test('an update aborted with its workflow task is asked again, each time under an update id of its own', async () => {
    const ids: string[] = [];
    const answer = await updateAskingAgain(async (updateId) => {
      ids.push(updateId);
      if (ids.length < 3) throw aborted();
      return 'accepted';
    });
    assert.equal(answer, 'accepted');
    assert.equal(ids.length, 3);
    assert.equal(new Set(ids).size, 3, 'an update id per attempt');
  });

  test('any other error is the caller’s at once; an abort that keeps coming is given up after five attempts', async () => {
    let calls = 0;
    await assert.rejects(
      updateAskingAgain(async () => {
        calls++;
        throw new Error('invalid tenant config');
      }),
      /invalid tenant config/,
    );
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(
      updateAskingAgain(async () => {
        calls++;
        throw aborted();
      }),
      /unexpected workflow task failure/,
    );
    assert.equal(calls, 5);
  });
});
