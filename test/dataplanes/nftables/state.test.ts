// Element ownership: one owner is a pair, several a Map; the smallest owner's payload wins.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { effectivePayload, ownerPairs, withOwner } from '../../../src/dataplanes/nftables/state.ts';

describe('element owners', () => {
  it('one owner is a pair; a second makes a Map; removing owners shrinks back to a pair, then nothing', () => {
    const a = withOwner(undefined, 'ns/b:p', ' : goto x');
    assert.deepEqual(a, ['ns/b:p', ' : goto x']);
    assert.equal(withOwner(undefined, 'ns/b:p', undefined), undefined);
    const replaced = withOwner(a, 'ns/b:p', ' : goto y');
    assert.deepEqual(replaced, ['ns/b:p', ' : goto y']);
    const two = withOwner(a, 'ns/a:p', ' : goto z');
    assert.ok(two instanceof Map);
    assert.equal(effectivePayload(two), ' : goto z', 'the lexically smallest owner wins');
    assert.deepEqual([...ownerPairs(two)].sort(), [['ns/a:p', ' : goto z'], ['ns/b:p', ' : goto x']]);
    assert.equal(withOwner(two, 'ns/c:p', undefined), two, 'removing a non-owner changes nothing');
    const back = withOwner(two, 'ns/a:p', undefined);
    assert.deepEqual(back, ['ns/b:p', ' : goto x']);
    assert.equal(withOwner(back, 'ns/b:p', undefined), undefined);
    assert.equal(withOwner(a, 'ns/z:p', undefined), a);
    assert.equal(effectivePayload(undefined), undefined);
    assert.equal(effectivePayload(a), ' : goto x');
  });
});
