import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCIDR, parseIP } from '../../src/model/ip.ts';

describe('model parseIP', () => {
  it('accepts dotted decimal IPv4 and returns canonical text', () => {
    for (const [text, want] of [
      ['10.96.0.1', '10.96.0.1'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      // Leading zeros are decimal (Go's ParseIPSloppy), and dropped.
      ['010.000.001.002', '10.0.1.2'],
      ['10.0.0.09', '10.0.0.9'],
      ['::ffff:10.1.2.3', '10.1.2.3'],
    ] as const) {
      assert.deepEqual(parseIP(text), { ip: want, family: 'IPv4' }, text);
    }
  });

  it('returns the input itself when it is already canonical', () => {
    const text = ['10', '96', '7', '200'].join('.');
    assert.equal(parseIP(text)?.ip, text);
  });

  it('rejects what is not four decimal parts of 0-255', () => {
    for (const text of ['', '1.2.3', '1.2.3.4.5', '1.2.3.', '.1.2.3', '1..2.3', '256.1.1.1', '1.2.3.999', '1234.1.1.1',
      '0x7f.0.0.1', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-4', '1.2.3.4/32', '１.2.3.4', 'a.b.c.d', '0001.2.3.4']) {
      assert.equal(parseIP(text), undefined, JSON.stringify(text));
    }
  });

  it('parses IPv6 to RFC 5952 text, without zones', () => {
    assert.deepEqual(parseIP('2001:DB8:0:0:0:0:0:1'), { ip: '2001:db8::1', family: 'IPv6' });
    assert.equal(parseIP('fe80::1%eth0'), undefined);
    assert.equal(parseIP('2001:db8::g'), undefined);
  });

  it('parses CIDRs to their network', () => {
    assert.deepEqual(parseCIDR('10.1.2.3/8'), { cidr: '10.0.0.0/8', family: 'IPv4' });
    assert.deepEqual(parseCIDR('010.1.2.3/16'), { cidr: '10.1.0.0/16', family: 'IPv4' });
    assert.equal(parseCIDR('10.1.2.3/33'), undefined);
  });
});
