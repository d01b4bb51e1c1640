import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendPortIfNeeded, parseCIDR, parseDualStackCIDRs, parseHostPort, parseIP, splitHostPort } from '../../../src/cli/config/net.ts';

describe('IP and CIDR parsing (ParseIPSloppy / ParseCIDRSloppy semantics)', () => {
  const ips: [string, string | undefined][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['010.000.000.001', '10.0.0.1'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['256.0.0.1', undefined],
    ['1.2.3', undefined],
    ['fe80::1%eth0', undefined],
    ['0x7f.1', undefined],
    ['', undefined],
    ['example.com', undefined],
  ];
  for (const [text, want] of ips) {
    it(`IP ${JSON.stringify(text)}`, () => {
      assert.equal(parseIP(text)?.address, want);
    });
  }

  const cidrs: [string, string | undefined][] = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['fd00::1/48', 'fd00::/48'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.0.0.0/33', undefined],
    ['10.0.0.0', undefined],
    ['10.0.0.0/-1', undefined],
    ['::/129', undefined],
  ];
  for (const [text, want] of cidrs) {
    it(`CIDR ${JSON.stringify(text)}`, () => {
      assert.equal(parseCIDR(text)?.text, want);
    });
  }

  it('dual-stack CIDR lists', () => {
    assert.deepEqual(
      (() => {
        const r = parseDualStackCIDRs('10.0.0.0/8,fd00::/48', 'f');
        return 'cidrs' in r ? r.cidrs.map((c) => c.family) : [];
      })(),
      ['IPv4', 'IPv6'],
    );
    assert.ok('errors' in parseDualStackCIDRs('10.0.0.0/8,11.0.0.0/8', 'f'));
    assert.ok('errors' in parseDualStackCIDRs('10.0.0.0/8,fd00::/48,12.0.0.0/8', 'f'));
    assert.ok('errors' in parseDualStackCIDRs('10.0.0.0/8,bad', 'f'));
  });
});

describe('host:port', () => {
  it('splits like Go net.SplitHostPort', () => {
    assert.deepEqual(splitHostPort('1.2.3.4:80'), { host: '1.2.3.4', port: '80' });
    assert.deepEqual(splitHostPort('[::1]:80'), { host: '::1', port: '80' });
    assert.deepEqual(splitHostPort(':80'), { host: '', port: '80' });
    assert.ok('error' in splitHostPort('1.2.3.4'));
    assert.ok('error' in splitHostPort('::1:80'));
    assert.ok('error' in splitHostPort('[::1]'));
  });

  it('validates IP:port as upstream validateHostPort', () => {
    const ok = parseHostPort('[::]:10256');
    assert.ok(!('errors' in ok) && ok.text === '[::]:10256' && ok.family === 'IPv6');
    const bad = parseHostPort('foo:0');
    assert.ok('errors' in bad);
    assert.deepEqual(bad.errors.map((e) => e.value), ['foo', '0']);
    const noPort = parseHostPort('1.2.3.4');
    assert.ok('errors' in noPort && noPort.errors[0]?.detail === 'must be IP:port');
  });

  it('appends a default port to a bare IP only', () => {
    assert.equal(appendPortIfNeeded('0.0.0.0', 10256), '0.0.0.0:10256');
    assert.equal(appendPortIfNeeded('::', 10256), '[::]:10256');
    assert.equal(appendPortIfNeeded('1.2.3.4:5', 10256), '1.2.3.4:5');
    assert.equal(appendPortIfNeeded('junk', 10256), 'junk');
  });
});
