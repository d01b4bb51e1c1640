import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { base32, CHAIN_NAME_BASE_LENGTH_MAX, endpointChainNameBase, hashAndTruncate, servicePortChainNameBase, servicePortNameString } from '../../../src/dataplanes/nftables/names.ts';
import { portName } from './fixtures.ts';

describe('nftables names', () => {
  it('match upstream examples', () => {
    assert.equal(servicePortChainNameBase(portName('ns1', 'svc1', 'p80')), 'ULMVA6XW-ns1/svc1/tcp/p80');
    assert.equal(endpointChainNameBase(portName('ns1', 'svc1', 'p80'), { ip: '10.180.0.1', port: 80 }), '5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80');
    assert.equal(servicePortChainNameBase(portName('ns2', 'svc2', 'p8080')), 'MHHHYRWA-ns2/svc2/tcp/p8080');
  });
  it('replaces IPv6 colons and keeps names within the limit', () => {
    const spn = portName('n'.repeat(63), 's'.repeat(63), 'p'.repeat(15), 'SCTP');
    const name = endpointChainNameBase(spn, { ip: 'fd00:1234:5678:9abc:def0:1234:5678:9abc', port: 65535 });
    assert.equal(name.includes(':'), false);
    assert.ok(name.length <= CHAIN_NAME_BASE_LENGTH_MAX);
    assert.equal(hashAndTruncate('x'.repeat(300)).length, CHAIN_NAME_BASE_LENGTH_MAX);
    assert.ok(hashAndTruncate('x'.repeat(300)).endsWith('...'));
  });
  it('base32 is RFC 4648', () => {
    assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI');
  });
  it('service port name strings as upstream', () => {
    assert.equal(servicePortNameString(portName('ns', 'svc', 'p80')), 'ns/svc:p80');
    assert.equal(servicePortNameString(portName('ns', 'svc', '')), 'ns/svc');
  });
});
