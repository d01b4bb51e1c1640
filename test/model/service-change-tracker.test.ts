// Service -> ServicePorts and ServiceChangeTracker: the cases of upstream
// pkg/proxy/servicechangetracker_test.go (TestServiceToServiceMap, TestServiceMapUpdateHeadless,
// TestUpdateServiceTypeExternalName, TestBuildServiceMapAddRemove,
// TestBuildServiceMapServiceUpdate, TestServiceCacheLeaks), named as upstream names them.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeService } from '../../src/model/decode/service.ts';
import { ServiceChangeTracker } from '../../src/model/service-change-tracker.ts';
import { healthCheckNodePorts, servicePortsForFamily } from '../../src/model/service-port.ts';
import type { IPFamily, ServicePort } from '../../src/model/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { addPort, makeService, type ServiceJSON } from './builders.ts';

/** upstream makeTestService: only spec.clusterIP is set (no clusterIPs / ipFamilies). */
function testService(ns: string, name: string, f: (s: ServiceJSON) => void): ServiceJSON {
  return makeService(ns, name, (s) => {
    delete s.spec.clusterIPs;
    delete s.spec.ipFamilies;
    delete s.spec.clusterIP;
    delete s.spec.type;
    f(s);
  });
}

interface Expected {
  clusterIP: string;
  port: number;
  protocol: string;
  healthCheckNodePort?: number;
  nodePort?: number;
  externalIPs?: string[];
  loadBalancerSourceRanges?: string[];
  loadBalancerVIPs?: string[];
}

function view(sp: ServicePort): Required<Expected> {
  return {
    clusterIP: sp.clusterIP, port: sp.port, protocol: sp.protocol, healthCheckNodePort: sp.healthCheckNodePort, nodePort: sp.nodePort,
    externalIPs: [...sp.externalIPs], loadBalancerSourceRanges: [...sp.loadBalancerSourceRanges], loadBalancerVIPs: [...sp.loadBalancerVIPs],
  };
}

function full(e: Expected): Required<Expected> {
  return { healthCheckNodePort: 0, nodePort: 0, externalIPs: [], loadBalancerSourceRanges: [], loadBalancerVIPs: [], ...e };
}

const testClusterIPv4 = '10.0.0.1';
const testExternalIPv4 = '8.8.8.8';
const testSourceRangeIPv4 = '0.0.0.0/1';
const testClusterIPv6 = '2001:db8:85a3:0:0:8a2e:370:7334';
const testExternalIPv6 = '2001:db8:85a3:0:0:8a2e:370:7335';
const testSourceRangeIPv6 = '2001:db8::/32';
const v6 = (s: string): string => s.replace(':0:0:', '::');

function lbService(ipMode?: string): ServiceJSON {
  return testService('ns1', 'load-balancer', (svc) => {
    svc.spec.type = 'LoadBalancer';
    svc.spec.clusterIP = '172.16.55.11';
    addPort(svc, 'port3', 'UDP', 8675, 30061, 7000);
    addPort(svc, 'port4', 'UDP', 8676, 30062, 7001);
    svc.status.loadBalancer.ingress = [ipMode === undefined ? { ip: '10.1.2.4' } : { ip: '10.1.2.4', ipMode }];
  });
}

function dualConfig(name: string, clusterIP: string, externalIPs: string[], ranges: string[]): ServiceJSON {
  return testService('test', name, (svc) => {
    svc.spec.clusterIP = clusterIP;
    svc.spec.externalIPs = externalIPs;
    svc.spec.loadBalancerSourceRanges = ranges;
    svc.spec.ports = [{ name: 'testPort', port: 12345, protocol: 'TCP' }];
    svc.status.loadBalancer.ingress = [{ ip: testExternalIPv4 }, { ip: testExternalIPv6 }];
  });
}

const toMapCases: { desc: string; family: IPFamily; service: ServiceJSON | undefined; expected: Record<string, Expected> }[] = [
  { desc: 'nothing', family: 'IPv4', service: undefined, expected: {} },
  {
    desc: 'headless service', family: 'IPv4', expected: {},
    service: testService('ns2', 'headless', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = 'None'; addPort(s, 'rpc', 'UDP', 1234); }),
  },
  {
    desc: 'headless sctp service', family: 'IPv4', expected: {},
    service: testService('ns2', 'headless', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = 'None'; addPort(s, 'sip', 'SCTP', 7777); }),
  },
  {
    desc: 'headless service without port', family: 'IPv4', expected: {},
    service: testService('ns2', 'headless-without-port', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = 'None'; }),
  },
  {
    desc: 'cluster ip service', family: 'IPv4',
    service: testService('ns2', 'cluster-ip', (s) => {
      s.spec.type = 'ClusterIP';
      s.spec.clusterIP = '172.16.55.4';
      addPort(s, 'p1', 'UDP', 1234, 4321);
      addPort(s, 'p2', 'UDP', 1235, 5321);
    }),
    expected: {
      'ns2/cluster-ip:p1/UDP': { clusterIP: '172.16.55.4', port: 1234, protocol: 'UDP', nodePort: 4321 },
      'ns2/cluster-ip:p2/UDP': { clusterIP: '172.16.55.4', port: 1235, protocol: 'UDP', nodePort: 5321 },
    },
  },
  {
    desc: 'nodeport service', family: 'IPv4',
    service: testService('ns2', 'node-port', (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '172.16.55.10';
      addPort(s, 'port1', 'UDP', 345, 678);
      addPort(s, 'port2', 'TCP', 344, 677);
    }),
    expected: {
      'ns2/node-port:port1/UDP': { clusterIP: '172.16.55.10', port: 345, protocol: 'UDP', nodePort: 678 },
      'ns2/node-port:port2/TCP': { clusterIP: '172.16.55.10', port: 344, protocol: 'TCP', nodePort: 677 },
    },
  },
  ...([
    ['load balancer service', undefined, true],
    ['load balancer service ipMode VIP feature gate disable', 'VIP', true],
    // The LoadBalancerIPMode gate is GA (locked on); a disabled gate is not modelled.
    ['load balancer service ipMode Proxy feature gate disable [gate is GA: Proxy never programmed]', 'Proxy', false],
    ['load balancer service ipMode VIP feature gate enabled', 'VIP', true],
    ['load balancer service ipMode Proxy feature gate enabled', 'Proxy', false],
  ] as const).map(([desc, mode, vip]) => ({
    desc, family: 'IPv4' as const, service: lbService(mode),
    expected: {
      'ns1/load-balancer:port3/UDP': { clusterIP: '172.16.55.11', port: 8675, protocol: 'UDP', nodePort: 30061, loadBalancerVIPs: vip ? ['10.1.2.4'] : [] },
      'ns1/load-balancer:port4/UDP': { clusterIP: '172.16.55.11', port: 8676, protocol: 'UDP', nodePort: 30062, loadBalancerVIPs: vip ? ['10.1.2.4'] : [] },
    },
  })),
  {
    desc: 'load balancer service with only local traffic policy', family: 'IPv4',
    service: testService('ns1', 'only-local-load-balancer', (s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.clusterIP = '172.16.55.12';
      addPort(s, 'portx', 'UDP', 8677, 30063, 7002);
      addPort(s, 'porty', 'UDP', 8678, 30064, 7003);
      s.status.loadBalancer.ingress = [{ ip: '10.1.2.3' }];
      s.spec.externalTrafficPolicy = 'Local';
      s.spec.healthCheckNodePort = 345;
    }),
    expected: {
      'ns1/only-local-load-balancer:portx/UDP': { clusterIP: '172.16.55.12', port: 8677, protocol: 'UDP', nodePort: 30063, healthCheckNodePort: 345, loadBalancerVIPs: ['10.1.2.3'] },
      'ns1/only-local-load-balancer:porty/UDP': { clusterIP: '172.16.55.12', port: 8678, protocol: 'UDP', nodePort: 30064, healthCheckNodePort: 345, loadBalancerVIPs: ['10.1.2.3'] },
    },
  },
  {
    desc: 'external name service', family: 'IPv4', expected: {},
    service: testService('ns2', 'external-name', (s) => {
      s.spec.type = 'ExternalName';
      s.spec.clusterIP = '172.16.55.4';
      s.spec.externalName = 'foo2.bar.com';
      addPort(s, 'portz', 'UDP', 1235, 5321);
    }),
  },
  {
    desc: 'service with ipv6 clusterIP under ipv4 mode, service should be filtered', family: 'IPv4', expected: {},
    service: testService('test', 'invalidIPv6InIPV4Mode', (s) => {
      s.spec.clusterIP = testClusterIPv6;
      s.spec.ports = [{ name: 'testPort', port: 12345, protocol: 'TCP' }];
      s.status.loadBalancer.ingress = [{ ip: testExternalIPv4 }, { ip: testExternalIPv6 }];
    }),
  },
  {
    desc: 'service with ipv4 clusterIP under ipv6 mode, service should be filtered', family: 'IPv6', expected: {},
    service: testService('test', 'invalidIPv4InIPV6Mode', (s) => {
      s.spec.clusterIP = testClusterIPv4;
      s.spec.ports = [{ name: 'testPort', port: 12345, protocol: 'TCP' }];
      s.status.loadBalancer.ingress = [{ ip: testExternalIPv4 }, { ip: testExternalIPv6 }];
    }),
  },
  {
    desc: 'service with ipv4 configurations under ipv4 mode', family: 'IPv4',
    service: dualConfig('validIPv4', testClusterIPv4, [testExternalIPv4], [testSourceRangeIPv4]),
    expected: {
      'test/validIPv4:testPort/TCP': { clusterIP: testClusterIPv4, port: 12345, protocol: 'TCP', externalIPs: [testExternalIPv4], loadBalancerSourceRanges: [testSourceRangeIPv4], loadBalancerVIPs: [testExternalIPv4] },
    },
  },
  {
    desc: 'service with ipv6 configurations under ipv6 mode', family: 'IPv6',
    service: dualConfig('validIPv6', testClusterIPv6, [testExternalIPv6], [testSourceRangeIPv6]),
    expected: {
      'test/validIPv6:testPort/TCP': { clusterIP: v6(testClusterIPv6), port: 12345, protocol: 'TCP', externalIPs: [v6(testExternalIPv6)], loadBalancerSourceRanges: [testSourceRangeIPv6], loadBalancerVIPs: [v6(testExternalIPv6)] },
    },
  },
  {
    desc: 'service with both ipv4 and ipv6 configurations under ipv4 mode, ipv6 fields should be filtered', family: 'IPv4',
    service: dualConfig('filterIPv6InIPV4Mode', testClusterIPv4, [testExternalIPv4, testExternalIPv6], [testSourceRangeIPv4, testSourceRangeIPv6]),
    expected: {
      'test/filterIPv6InIPV4Mode:testPort/TCP': { clusterIP: testClusterIPv4, port: 12345, protocol: 'TCP', externalIPs: [testExternalIPv4], loadBalancerSourceRanges: [testSourceRangeIPv4], loadBalancerVIPs: [testExternalIPv4] },
    },
  },
  {
    desc: 'service with both ipv4 and ipv6 configurations under ipv6 mode, ipv4 fields should be filtered', family: 'IPv6',
    service: dualConfig('filterIPv4InIPV6Mode', testClusterIPv6, [testExternalIPv4, testExternalIPv6], [testSourceRangeIPv4, testSourceRangeIPv6]),
    expected: {
      'test/filterIPv4InIPV6Mode:testPort/TCP': { clusterIP: v6(testClusterIPv6), port: 12345, protocol: 'TCP', externalIPs: [v6(testExternalIPv6)], loadBalancerSourceRanges: [testSourceRangeIPv6], loadBalancerVIPs: [v6(testExternalIPv6)] },
    },
  },
  {
    desc: 'service with extra space in LoadBalancerSourceRanges', family: 'IPv4',
    service: testService('test', 'extra-space', (s) => {
      s.spec.clusterIP = testClusterIPv4;
      s.spec.loadBalancerSourceRanges = [' 10.1.2.0/28'];
      s.spec.ports = [{ name: 'testPort', port: 12345, protocol: 'TCP' }];
    }),
    expected: { 'test/extra-space:testPort/TCP': { clusterIP: testClusterIPv4, port: 12345, protocol: 'TCP', loadBalancerSourceRanges: ['10.1.2.0/28'] } },
  },
];

describe('Service to ServicePorts (upstream TestServiceToServiceMap)', () => {
  for (const tc of toMapCases) {
    it(tc.desc, () => {
      const decoded = tc.service === undefined ? undefined : decodeService(tc.service, silentLogger());
      const ports = decoded === undefined ? undefined : servicePortsForFamily(decoded, tc.family);
      const got = Object.fromEntries([...(ports ?? [])].map(([k, v]) => [k, view(v)]));
      assert.deepEqual(got, Object.fromEntries(Object.entries(tc.expected).map(([k, v]) => [k, full(v)])));
    });
  }
});

function tracker(): { t: ServiceChangeTracker; set: (s: ServiceJSON, deleted?: boolean) => boolean } {
  const t = new ServiceChangeTracker('IPv4');
  return {
    t,
    set: (s, deleted = false) => t.update(`${s.metadata.namespace ?? ''}/${s.metadata.name}`, deleted ? undefined : decodeService(s, silentLogger())),
  };
}

describe('ServiceChangeTracker (upstream service map tests)', () => {
  it('TestServiceMapUpdateHeadless', () => {
    const { t, set } = tracker();
    set(testService('ns2', 'headless', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = 'None'; addPort(s, 'rpc', 'UDP', 1234); }));
    set(testService('ns2', 'headless-without-port', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = 'None'; }));
    const result = t.apply();
    assert.equal(result.services.size, 0);
    assert.equal(result.updatedServices.size, 0);
    assert.equal(healthCheckNodePorts(result.services.values()).size, 0);
  });

  it('TestUpdateServiceTypeExternalName', () => {
    const { t, set } = tracker();
    set(testService('ns2', 'external-name', (s) => {
      s.spec.type = 'ExternalName';
      s.spec.clusterIP = '172.16.55.4';
      s.spec.externalName = 'foo2.bar.com';
      addPort(s, 'blah', 'UDP', 1235, 5321);
    }));
    const result = t.apply();
    assert.equal(result.services.size, 0);
    assert.equal(result.updatedServices.size, 0);
  });

  it('TestBuildServiceMapAddRemove', () => {
    const { t, set } = tracker();
    const services = [
      testService('ns2', 'cluster-ip', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = '172.16.55.4'; addPort(s, 'port1', 'UDP', 1234, 4321); addPort(s, 'port2', 'UDP', 1235, 5321); }),
      testService('ns2', 'node-port', (s) => { s.spec.type = 'NodePort'; s.spec.clusterIP = '172.16.55.10'; addPort(s, 'port1', 'UDP', 345, 678); addPort(s, 'port2', 'TCP', 344, 677); }),
      testService('ns1', 'load-balancer', (s) => {
        s.spec.type = 'LoadBalancer'; s.spec.clusterIP = '172.16.55.11';
        addPort(s, 'foobar', 'UDP', 8675, 30061, 7000); addPort(s, 'baz', 'UDP', 8676, 30062, 7001);
        s.status.loadBalancer.ingress = [{ ip: '10.1.2.4' }];
      }),
      testService('ns1', 'only-local-load-balancer', (s) => {
        s.spec.type = 'LoadBalancer'; s.spec.clusterIP = '172.16.55.12';
        addPort(s, 'foobar2', 'UDP', 8677, 30063, 7002); addPort(s, 'baz', 'UDP', 8678, 30064, 7003);
        s.status.loadBalancer.ingress = [{ ip: '10.1.2.3' }];
        s.spec.externalTrafficPolicy = 'Local'; s.spec.healthCheckNodePort = 345;
      }),
    ];
    for (const s of services) set(s);
    let result = t.apply();
    assert.equal(result.services.size, 8);
    assert.deepEqual([...result.updatedServices].sort(), ['ns1/load-balancer', 'ns1/only-local-load-balancer', 'ns2/cluster-ip', 'ns2/node-port']);
    assert.deepEqual(Object.fromEntries(healthCheckNodePorts(result.services.values())), { 'ns1/only-local-load-balancer': 345 });

    // oneService is a modification of services[0] with removed first port.
    const oneService = testService('ns2', 'cluster-ip', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = '172.16.55.4'; addPort(s, 'p2', 'UDP', 1235, 5321); });
    set(oneService);
    for (const s of services.slice(1)) set(s, true);
    result = t.apply();
    assert.equal(result.services.size, 1);
    assert.equal(result.updatedServices.size, 4);
    assert.equal(healthCheckNodePorts(result.services.values()).size, 0);
    // (upstream 1.27–1.29 also checked these stale UDP cluster IPs)
    assert.deepEqual([...result.deletedUDPClusterIPs].sort(), ['172.16.55.10', '172.16.55.11', '172.16.55.12', '172.16.55.4']);
  });

  it('TestBuildServiceMapServiceUpdate', () => {
    const { t, set } = tracker();
    const servicev1 = testService('ns1', 'svc1', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = '172.16.55.4'; addPort(s, 'p1', 'UDP', 1234, 4321); addPort(s, 'p2', 'TCP', 1235, 5321); });
    const servicev2 = testService('ns1', 'svc1', (s) => {
      s.spec.type = 'LoadBalancer'; s.spec.clusterIP = '172.16.55.4';
      addPort(s, 'p1', 'UDP', 1234, 4321, 7002); addPort(s, 'p2', 'TCP', 1235, 5321, 7003);
      s.status.loadBalancer.ingress = [{ ip: '10.1.2.3' }];
      s.spec.externalTrafficPolicy = 'Local'; s.spec.healthCheckNodePort = 345;
    });
    const step = (s: ServiceJSON, size: number, updated: number, hc: number): void => {
      set(s);
      const r = t.apply();
      assert.equal(r.services.size, size);
      assert.equal(r.updatedServices.size, updated);
      assert.equal(healthCheckNodePorts(r.services.values()).size, hc);
    };
    step(servicev1, 2, 1, 0);
    step(servicev2, 2, 1, 1); // change service to load-balancer
    step(servicev2, 2, 0, 1); // no change
    step(servicev1, 2, 1, 0); // and back to ClusterIP
  });

  it('TestServiceCacheLeaks', () => {
    const { t, set } = tracker();
    const service = testService('ns1', 'svc1', (s) => { s.spec.type = 'ClusterIP'; s.spec.clusterIP = '172.16.55.4'; addPort(s, 'p1', 'UDP', 1234, 4321); addPort(s, 'p2', 'TCP', 1235, 5321); });
    set(service);
    assert.equal(t.pendingCount, 1);
    set(service, true);
    assert.equal(t.pendingCount, 0);
  });
});

describe('ServiceChangeTracker change reporting', () => {
  const svc = (port: number, protocol = 'UDP'): ServiceJSON => makeService('ns1', 'svc1', (s) => { addPort(s, 'p', protocol, port); });

  it('update returns false for a no-op and true for a real change', () => {
    const { t, set } = tracker();
    assert.equal(set(svc(53)), true);
    assert.equal(set(svc(53)), false, 'same again while pending');
    t.apply();
    assert.equal(set(svc(53)), false, 'same as applied');
    assert.equal(set(svc(54)), true);
    assert.equal(set(svc(53)), true, 'reverting is a change of what is pending');
    assert.equal(t.pendingCount, 0, 'but leaves nothing to sync');
    assert.equal(t.apply().updatedServices.size, 0);
  });

  it('reports the cluster IP of removed UDP and SCTP ports, not TCP ones', () => {
    const { t, set } = tracker();
    set(makeService('ns1', 'svc1', (s) => { addPort(s, 'dns', 'UDP', 53); addPort(s, 'sctp', 'SCTP', 9); addPort(s, 'web', 'TCP', 80); }));
    t.apply();
    set(makeService('ns1', 'svc1', (s) => { addPort(s, 'web', 'TCP', 80); }));
    assert.deepEqual([...t.apply().deletedUDPClusterIPs], ['172.30.0.1']);
    set(makeService('ns1', 'svc1', (s) => { addPort(s, 'web', 'TCP', 80); }), true);
    assert.deepEqual([...t.apply().deletedUDPClusterIPs], []);
  });

  it('a port changing protocol UDP->TCP deletes the UDP service port', () => {
    const { t, set } = tracker();
    set(svc(53, 'UDP'));
    t.apply();
    set(svc(53, 'TCP'));
    const r = t.apply();
    assert.deepEqual([...r.deletedUDPClusterIPs], ['172.30.0.1']);
    assert.deepEqual([...r.services.keys()], ['ns1/svc1:p/TCP']);
  });

  it('keeps families apart', () => {
    const t6 = new ServiceChangeTracker('IPv6');
    const dual = decodeService(makeService('ns1', 'svc1', (s) => {
      s.spec.clusterIP = '172.30.0.1';
      s.spec.clusterIPs = ['172.30.0.1', 'fd00:172:30::1'];
      addPort(s, 'p', 'TCP', 80);
    }), silentLogger());
    assert.equal(t6.update('ns1/svc1', dual), true);
    const sp = t6.apply().services.get('ns1/svc1:p/TCP');
    assert.equal(sp?.clusterIP, 'fd00:172:30::1');
    assert.equal(sp.family, 'IPv6');
  });
});
