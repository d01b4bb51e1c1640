// decodeService: valid Services of every shape, and bad input — each bad case asserts exactly
// one warn line naming kind, namespace/name, field path and value, and what was skipped.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeService, type DecodedService } from '../../src/model/decode/service.ts';
import { servicePortsForFamily } from '../../src/model/service-port.ts';
import { memoryLogger } from '../../src/util/logger.ts';
import { addPort, makeService, setClusterIPs, type Json, type ServiceJSON } from './builders.ts';

const WARN = 40;

function decode(obj: unknown, opts: { serviceProxyName?: string } = {}): { svc: DecodedService | undefined; warns: Record<string, unknown>[]; all: Record<string, unknown>[] } {
  const { logger, records } = memoryLogger();
  const svc = decodeService(obj, logger, opts);
  return { svc, warns: records.filter((r) => r['level'] === WARN), all: records };
}

/** A LoadBalancer with two ports, external IPs and an LB ingress: valid. */
function base(mutate?: (s: ServiceJSON) => void): ServiceJSON {
  return makeService('ns1', 'svc1', (s) => {
    s.spec.type = 'LoadBalancer';
    addPort(s, 'http', 'TCP', 80, 30080);
    addPort(s, 'dns', 'UDP', 53, 30053);
    s.spec.externalIPs = ['192.168.99.1'];
    s.status.loadBalancer.ingress = [{ ip: '1.2.3.4' }];
    mutate?.(s);
  });
}

const spec = (s: ServiceJSON): Json => s.spec;

interface BadCase {
  name: string;
  obj: unknown;
  /** Expected log: field path, rendered value, and a message fragment. */
  field: string;
  value: string;
  message: string;
  object?: string;
  /** 'skipped': the whole Service is dropped; else a check of what remains. */
  outcome: 'skipped' | ((svc: DecodedService) => void);
}

const portCount = (n: number) => (svc: DecodedService): void => { assert.equal(svc.ports.length, n); };

const badCases: BadCase[] = [
  { name: 'port 65536', obj: base((s) => { (s.spec.ports ?? [])[1] = { name: 'dns', protocol: 'UDP', port: 65536 }; }), field: 'spec.ports[1].port', value: '65536', message: 'Service ns1/svc1: spec.ports[1].port: 65536 is not a valid port; port skipped', outcome: portCount(1) },
  { name: 'port 0', obj: base((s) => { (s.spec.ports ?? [])[0] = { name: 'http', port: 0 }; }), field: 'spec.ports[0].port', value: '0', message: 'is not a valid port', outcome: portCount(1) },
  { name: 'port as a string', obj: base((s) => { (spec(s)['ports'] as Json[])[0] = { name: 'http', port: '80' }; }), field: 'spec.ports[0].port', value: '"80"', message: 'is not a valid port', outcome: portCount(1) },
  { name: 'negative node port', obj: base((s) => { (s.spec.ports ?? [])[0] = { name: 'http', port: 80, nodePort: -1 }; }), field: 'spec.ports[0].nodePort', value: '-1', message: 'is not a valid node port', outcome: portCount(1) },
  { name: 'unknown protocol', obj: base((s) => { (s.spec.ports ?? [])[0] = { name: 'http', port: 80, protocol: 'ICMP' }; }), field: 'spec.ports[0].protocol', value: '"ICMP"', message: 'is not a supported protocol', outcome: portCount(1) },
  { name: 'lowercase protocol', obj: base((s) => { (s.spec.ports ?? [])[0] = { name: 'http', port: 80, protocol: 'tcp' }; }), field: 'spec.ports[0].protocol', value: '"tcp"', message: 'is not a supported protocol', outcome: portCount(1) },
  { name: 'duplicate ports', obj: base((s) => { addPort(s, 'http', 'TCP', 8080); }), field: 'spec.ports[2]', value: '{"name":"http","protocol":"TCP"}', message: 'duplicates spec.ports[0]; port skipped', outcome: (svc) => { assert.equal(svc.ports.length, 2); assert.equal(svc.ports[0]?.port, 80); } },
  { name: 'port entry not an object', obj: base((s) => { (spec(s)['ports'] as unknown[]).push('80/TCP'); }), field: 'spec.ports[2]', value: '"80/TCP"', message: 'is not an object', outcome: portCount(2) },
  { name: 'port name not a string', obj: base((s) => { (spec(s)['ports'] as Json[])[0] = { name: 7, port: 80 }; }), field: 'spec.ports[0].name', value: '7', message: 'is not a string', outcome: portCount(1) },
  { name: 'ports not a list', obj: base((s) => { spec(s)['ports'] = { http: 80 }; }), field: 'spec.ports', value: '{"http":80}', message: 'is not a list; Service skipped', outcome: 'skipped' },
  { name: 'bad clusterIP', obj: base((s) => { setClusterIPs(s, '172.30.0.300'); }), field: 'spec.clusterIP', value: '"172.30.0.300"', message: 'is not a valid IP address; Service skipped', outcome: 'skipped' },
  { name: 'clusterIP not a string', obj: base((s) => { spec(s)['clusterIP'] = 17230001; }), field: 'spec.clusterIP', value: '17230001', message: 'is not a string', outcome: 'skipped' },
  { name: 'bad secondary clusterIPs entry', obj: base((s) => { s.spec.clusterIPs = ['172.30.0.1', 'fd00::zz']; }), field: 'spec.clusterIPs[1]', value: '"fd00::zz"', message: 'cluster IP skipped', outcome: (svc) => { assert.deepEqual(svc.clusterIPs, { IPv4: '172.30.0.1' }); } },
  { name: 'bad external IP', obj: base((s) => { s.spec.externalIPs = ['192.168.99.1', 'not-an-ip']; }), field: 'spec.externalIPs[1]', value: '"not-an-ip"', message: 'is not a valid IP address; external IP skipped', outcome: (svc) => { assert.deepEqual(svc.externalIPs.map((i) => i.ip), ['192.168.99.1']); } },
  { name: 'externalIPs not a list', obj: base((s) => { spec(s)['externalIPs'] = '192.168.99.1'; }), field: 'spec.externalIPs', value: '"192.168.99.1"', message: 'is not a list', outcome: 'skipped' },
  { name: 'bad load balancer source range', obj: base((s) => { s.spec.loadBalancerSourceRanges = ['10.0.0.0/8', '10.0.0.0/33']; }), field: 'spec.loadBalancerSourceRanges[1]', value: '"10.0.0.0/33"', message: 'is not a valid CIDR; Service skipped', outcome: 'skipped' },
  { name: 'bad ingress IP', obj: base((s) => { s.status.loadBalancer.ingress = [{ ip: '1.2.3' }, { ip: '1.2.3.5' }]; }), field: 'status.loadBalancer.ingress[0].ip', value: '"1.2.3"', message: 'load-balancer ingress skipped', outcome: (svc) => { assert.deepEqual(svc.loadBalancerVIPs.map((i) => i.ip), ['1.2.3.5']); } },
  { name: 'no metadata', obj: { apiVersion: 'v1', kind: 'Service', spec: {} }, object: '<unknown>', field: 'metadata', value: 'undefined', message: 'Service <unknown>: metadata: undefined is not an object; Service skipped', outcome: 'skipped' },
  { name: 'no namespace', obj: base((s) => { delete s.metadata.namespace; }), object: 'svc1', field: 'metadata.namespace', value: 'undefined', message: 'is not a non-empty string', outcome: 'skipped' },
  { name: 'name not a string', obj: base((s) => { (s.metadata as Json)['name'] = 42; }), object: 'ns1/<unknown>', field: 'metadata.name', value: '42', message: 'is not a non-empty string', outcome: 'skipped' },
  { name: 'labels not a map', obj: base((s) => { (s.metadata as Json)['labels'] = ['a']; }), field: 'metadata.labels', value: '["a"]', message: 'is not a map of strings', outcome: 'skipped' },
  { name: 'no spec', obj: base((s) => { delete (s as Partial<ServiceJSON>).spec; }), field: 'spec', value: 'undefined', message: 'is not an object', outcome: 'skipped' },
  { name: 'spec is a list', obj: base((s) => { (s as Json)['spec'] = []; }), field: 'spec', value: '[]', message: 'is not an object', outcome: 'skipped' },
  { name: 'unknown type', obj: base((s) => { s.spec.type = 'Weird'; }), field: 'spec.type', value: '"Weird"', message: 'is not a supported Service type', outcome: 'skipped' },
  { name: 'unknown session affinity', obj: base((s) => { s.spec.sessionAffinity = 'Sticky'; }), field: 'spec.sessionAffinity', value: '"Sticky"', message: 'is not "None" or "ClientIP"', outcome: 'skipped' },
  { name: 'session affinity timeout 0', obj: base((s) => { s.spec.sessionAffinity = 'ClientIP'; s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 0 } }; }), field: 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', value: '0', message: 'is not an integer in 1..86400', outcome: 'skipped' },
  { name: 'unknown externalTrafficPolicy', obj: base((s) => { s.spec.externalTrafficPolicy = 'Global'; }), field: 'spec.externalTrafficPolicy', value: '"Global"', message: 'is not "Cluster" or "Local"', outcome: 'skipped' },
  { name: 'internalTrafficPolicy not a string', obj: base((s) => { spec(s)['internalTrafficPolicy'] = true; }), field: 'spec.internalTrafficPolicy', value: 'true', message: 'is not "Cluster" or "Local"', outcome: 'skipped' },
  { name: 'healthCheckNodePort out of range', obj: base((s) => { s.spec.healthCheckNodePort = 70000; }), field: 'spec.healthCheckNodePort', value: '70000', message: 'is not a valid port', outcome: 'skipped' },
  { name: 'trafficDistribution not a string', obj: base((s) => { spec(s)['trafficDistribution'] = 1; }), field: 'spec.trafficDistribution', value: '1', message: 'is not a string', outcome: 'skipped' },
  { name: 'status not an object', obj: base((s) => { (s as Json)['status'] = 'Ready'; }), field: 'status', value: '"Ready"', message: 'is not an object', outcome: 'skipped' },
  { name: 'health check node port missing for eTP Local LoadBalancer', obj: base((s) => { s.spec.externalTrafficPolicy = 'Local'; }), field: 'spec.healthCheckNodePort', value: '0', message: 'health check skipped', outcome: (svc) => { assert.equal(svc.healthCheckNodePort, 0); assert.equal(svc.externalPolicyLocal, true); } },
];

describe('decodeService bad input', () => {
  for (const tc of badCases) {
    it(tc.name, () => {
      const { svc, warns } = decode(tc.obj);
      assert.equal(warns.length, 1, `exactly one warn line, got ${JSON.stringify(warns)}`);
      const w = warns[0] ?? {};
      assert.equal(w['kind'], 'Service');
      assert.equal(w['object'], tc.object ?? 'ns1/svc1');
      assert.equal(w['field'], tc.field);
      assert.equal(w['value'], tc.value);
      const msg = String(w['msg']);
      assert.ok(msg.includes(tc.message), msg);
      assert.ok(msg.includes(tc.field) && msg.includes(tc.value) && msg.includes(`Service ${tc.object ?? 'ns1/svc1'}`), msg);
      if (tc.outcome === 'skipped') assert.equal(svc, undefined);
      else {
        assert.ok(svc);
        tc.outcome(svc);
      }
    });
  }

  for (const [name, obj] of [['null', null], ['a string', 'Service'], ['a number', 7], ['a list', [{}]]] as const) {
    it(`the object is ${name}`, () => {
      const { svc, warns } = decode(obj);
      assert.equal(svc, undefined);
      assert.equal(warns.length, 1);
      assert.equal(warns[0]?.['field'], '(object)');
    });
  }

  it('a huge field value is truncated in the log', () => {
    const { warns } = decode(base((s) => { s.spec.externalIPs = ['x'.repeat(10000)]; }));
    assert.ok(String(warns[0]?.['value']).length <= 120);
  });
});

describe('decodeService valid input', () => {
  it('decodes every field kube-proxy uses', () => {
    const { svc, warns } = decode(base((s) => {
      setClusterIPs(s, '172.30.0.1', 'FD00:172:30:0::1');
      s.spec.externalIPs = ['192.168.99.1', '2001:db8::0:1'];
      s.spec.loadBalancerSourceRanges = ['10.1.2.3/8', ' 2001:db8::/32 '];
      s.status.loadBalancer.ingress = [{ ip: '1.2.3.4' }, { ip: '1.2.3.5', ipMode: 'Proxy' }, { hostname: 'lb.example.com' }, { ip: '2001:db8::9', ipMode: 'VIP' }];
      s.spec.sessionAffinity = 'ClientIP';
      s.spec.internalTrafficPolicy = 'Local';
      s.spec.externalTrafficPolicy = 'Local';
      s.spec.healthCheckNodePort = 31000;
      s.spec.trafficDistribution = 'PreferClose';
    }));
    assert.equal(warns.length, 0);
    assert.ok(svc);
    assert.deepEqual(svc.clusterIPs, { IPv4: '172.30.0.1', IPv6: 'fd00:172:30::1' });
    assert.deepEqual(svc.ports, [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }, { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053 }]);
    assert.deepEqual(svc.sessionAffinity, { type: 'ClientIP', timeoutSeconds: 10800 });
    assert.equal(svc.internalPolicyLocal, true);
    assert.equal(svc.externalPolicyLocal, true);
    assert.equal(svc.healthCheckNodePort, 31000);
    assert.equal(svc.trafficDistribution, 'PreferClose');
    const v4 = servicePortsForFamily(svc, 'IPv4')?.get('ns1/svc1:dns/UDP');
    const v6 = servicePortsForFamily(svc, 'IPv6')?.get('ns1/svc1:dns/UDP');
    assert.deepEqual([v4?.clusterIP, v4?.externalIPs, v4?.loadBalancerVIPs, v4?.loadBalancerSourceRanges], ['172.30.0.1', ['192.168.99.1'], ['1.2.3.4'], ['10.0.0.0/8']]);
    assert.deepEqual([v6?.clusterIP, v6?.externalIPs, v6?.loadBalancerVIPs, v6?.loadBalancerSourceRanges], ['fd00:172:30::1', ['2001:db8::1'], ['2001:db8::9'], ['2001:db8::/32']]);
    assert.equal(v6?.name.key, 'ns1/svc1:dns/UDP');
    assert.ok(Object.isFrozen(v4));
  });

  it('uses the session affinity timeout given', () => {
    const { svc } = decode(base((s) => { s.spec.sessionAffinity = 'ClientIP'; s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 60 } }; }));
    assert.deepEqual(svc?.sessionAffinity, { type: 'ClientIP', timeoutSeconds: 60 });
  });

  it('falls back to spec.clusterIP without spec.clusterIPs', () => {
    const { svc } = decode(makeService('ns1', 'svc1', (s) => { delete s.spec.clusterIPs; s.spec.clusterIP = '2001:db8::0:a'; }));
    assert.deepEqual(svc?.clusterIPs, { IPv6: '2001:db8::a' });
  });

  const policyCases: [string, (s: ServiceJSON) => void, boolean, number][] = [
    ['eTP Local on NodePort: local, no health check', (s) => { s.spec.type = 'NodePort'; s.spec.externalTrafficPolicy = 'Local'; s.spec.healthCheckNodePort = 1; }, true, 0],
    ['eTP Local on ClusterIP with external IPs: local', (s) => { s.spec.externalIPs = ['192.168.99.1']; s.spec.externalTrafficPolicy = 'Local'; }, true, 0],
    ['eTP Local on ClusterIP without external IPs: ignored', (s) => { s.spec.externalTrafficPolicy = 'Local'; }, false, 0],
    ['health check node port ignored for eTP Cluster', (s) => { s.spec.type = 'LoadBalancer'; s.spec.healthCheckNodePort = 30000; }, false, 0],
  ];
  for (const [name, mutate, local, hc] of policyCases) {
    it(name, () => {
      const { svc } = decode(makeService('ns1', 'svc1', (s) => { addPort(s, 'p', 'TCP', 80); mutate(s); }));
      assert.equal(svc?.externalPolicyLocal, local);
      assert.equal(svc.healthCheckNodePort, hc);
    });
  }

  it('a Service without ports decodes with none', () => {
    const { svc, warns } = decode(makeService('ns1', 'svc1'));
    assert.equal(warns.length, 0);
    assert.deepEqual(svc?.ports, []);
    assert.equal(servicePortsForFamily(svc, 'IPv4'), undefined);
  });
});

describe('decodeService skips on purpose (debug, not warn)', () => {
  const cases: [string, ServiceJSON, { serviceProxyName?: string }, boolean][] = [
    ['clusterIP None', makeService('ns1', 'svc1', (s) => { setClusterIPs(s, 'None'); addPort(s, 'p', 'TCP', 80); }), {}, false],
    ['clusterIP empty', makeService('ns1', 'svc1', (s) => { setClusterIPs(s, ''); }), {}, false],
    ['ExternalName', makeService('ns1', 'svc1', (s) => { s.spec.type = 'ExternalName'; s.spec.externalName = 'x.example.com'; spec(s)['clusterIP'] = 42; }), {}, false],
    ['another proxy', makeService('ns1', 'svc1', (s) => { s.metadata.labels = { 'service.kubernetes.io/service-proxy-name': 'other' }; addPort(s, 'p', 'TCP', 80); }), {}, false],
    ['another proxy while we have a name', makeService('ns1', 'svc1', (s) => { s.metadata.labels = { 'service.kubernetes.io/service-proxy-name': 'other' }; }), { serviceProxyName: 'ours' }, false],
    ['our proxy name', makeService('ns1', 'svc1', (s) => { s.metadata.labels = { 'service.kubernetes.io/service-proxy-name': 'ours' }; }), { serviceProxyName: 'ours' }, true],
    ['empty proxy name label', makeService('ns1', 'svc1', (s) => { s.metadata.labels = { 'service.kubernetes.io/service-proxy-name': '' }; }), {}, false],
    ['headless label', makeService('ns1', 'svc1', (s) => { s.metadata.labels = { 'service.kubernetes.io/headless': '' }; }), {}, false],
  ];
  for (const [name, obj, opts, kept] of cases) {
    it(name, () => {
      const { svc, warns, all } = decode(obj, opts);
      assert.equal(warns.length, 0);
      assert.equal(svc !== undefined, kept);
      if (!kept) assert.ok(all.some((r) => r['level'] === 20 && r['object'] === 'ns1/svc1'), 'debug line');
    });
  }
});
