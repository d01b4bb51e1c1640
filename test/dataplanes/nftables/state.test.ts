// Element ownership: one owner is its port key, several a sorted list; the smallest owner's
// payload wins, and each owner's payload is read from its record.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addOwner, ownerList, payloadIn, removeOwner, toRecord, winner } from '../../../src/dataplanes/nftables/state.ts';
import { elementPayloadText, type ServiceFragment } from '../../../src/dataplanes/nftables/ruleset.ts';

describe('element owners', () => {
  it('one owner is its port key; a second makes a sorted list; removing owners shrinks back, then nothing', () => {
    const a = addOwner(undefined, 'ns/b:p');
    assert.equal(a, 'ns/b:p');
    assert.equal(addOwner(a, 'ns/b:p'), a, 'adding an owner again changes nothing');
    const two = addOwner(a, 'ns/a:p');
    assert.deepEqual(two, ['ns/a:p', 'ns/b:p']);
    assert.equal(winner(two), 'ns/a:p', 'the lexically smallest owner wins');
    assert.equal(addOwner(two, 'ns/b:p'), two);
    const three = addOwner(two, 'ns/0:p');
    assert.deepEqual(ownerList(three), ['ns/0:p', 'ns/a:p', 'ns/b:p']);
    assert.equal(removeOwner(two, 'ns/c:p'), two, 'removing a non-owner changes nothing');
    assert.deepEqual(removeOwner(three, 'ns/a:p'), ['ns/0:p', 'ns/b:p']);
    const back = removeOwner(two, 'ns/a:p');
    assert.equal(back, 'ns/b:p');
    assert.equal(removeOwner(back, 'ns/b:p'), undefined);
    assert.equal(removeOwner(a, 'ns/z:p'), a);
    assert.equal(removeOwner(undefined, 'ns/z:p'), undefined);
    assert.deepEqual(ownerList(undefined), []);
  });

  it("an owner's payload comes from its record; a key listed twice keeps the last", () => {
    const frag: ServiceFragment = {
      portKey: 'ns/a:p/TCP', serviceKey: 'ns/a', table: 'kube-proxy', chains: [], sets: [], hairpin: [], lb: undefined,
      noLocalInternal: false, noLocalExternal: false,
      elements: [
        { set: 'service-ips', key: ['10.0.0.1', 'tcp', '80'], value: 'goto x' },
        { set: 'cluster-ips', key: ['10.0.0.1'] },
        { set: 'service-ips', key: ['10.0.0.1', 'tcp', '80'], value: 'goto y' },
      ],
    };
    const rec = toRecord(frag);
    assert.equal(payloadIn(rec, 'kube-proxy service-ips', '10.0.0.1 . tcp . 80'), ' : goto y');
    assert.equal(payloadIn(rec, 'kube-proxy cluster-ips', '10.0.0.1'), '');
    assert.equal(payloadIn(rec, 'kube-proxy service-ips', '10.0.0.2 . tcp . 80'), undefined);
    assert.equal(payloadIn(undefined, 'kube-proxy cluster-ips', '10.0.0.1'), undefined);
    assert.equal(elementPayloadText({ value: 'drop', comment: 'ns/a:p' }), ' comment "ns/a:p" : drop');
  });
});
