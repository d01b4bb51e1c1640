import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Json, JsonObject } from '../../src/controlplane/json.ts';
import { IPAllocator, PortAllocator, RangeAllocator, parsePortRange } from '../../src/controlplane/registry/allocator.ts';
import { OPTS, testRegistry } from './registry-helpers.ts';
import { str } from './helpers.ts';

const svc = (name: string, spec: Record<string, Json>): Json => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec });
const specOf = (o: JsonObject): JsonObject => o['spec'] as JsonObject;

describe('allocators', () => {
  it('never hands out the network, broadcast or (dynamically) the first address', () => {
    const a = new IPAllocator('10.0.0.0/29');
    const got = new Set<string>();
    for (;;) {
      const r = a.allocateNext();
      if (!r.ok) break;
      got.add(r.value);
    }
    assert.deepEqual([...got].sort(), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    assert.equal(a.allocate('10.0.0.0').ok, false);
    assert.equal(a.allocate('10.0.0.7').ok, false);
    assert.deepEqual(a.allocate('10.0.0.1'), { ok: true, value: '10.0.0.1' }, 'the first address can be requested');
    assert.deepEqual(a.allocate('10.0.0.1'), { ok: false, reason: 'allocated' });
    assert.deepEqual(a.allocate('10.0.1.1'), { ok: false, reason: 'out-of-range' });
    a.release('10.0.0.4');
    assert.deepEqual(a.allocateNext(), { ok: true, value: '10.0.0.4' });
  });
  it('prefers the upper band for dynamic allocation', () => {
    const r = new RangeAllocator(1024, 64);
    for (let i = 0; i < 100; i++) assert.ok((r.allocateNext() ?? 0) >= 64);
  });
  it('allocates IPv6 and rejects oversized ranges', () => {
    const a = new IPAllocator('fd00:10:96::/112');
    const r = a.allocateNext();
    assert.ok(r.ok && r.value.startsWith('fd00:10:96::'));
    assert.throws(() => new IPAllocator('fd00::/64'), /too large/);
    assert.throws(() => new IPAllocator('10.0.0.0/8'), /too large/);
  });
  it('allocates node ports within the range', () => {
    const p = new PortAllocator(parsePortRange('30000-30009'));
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(p.allocateNext() ?? -1);
    assert.equal(seen.size, 10);
    assert.equal(p.allocateNext(), undefined);
    assert.equal(p.allocate(30000), 'allocated');
    assert.equal(p.allocate(40000), 'out-of-range');
    assert.deepEqual(parsePortRange('30000+5'), { min: 30000, max: 30005 });
  });
});

describe('service allocation through the registry', () => {
  it('allocates ClusterIPs and NodePorts, honours requests and rejects conflicts', async () => {
    const t = await testRegistry(['10.96.0.0/16'], '30000-30100');
    try {
      const a = await t.create('services', svc('a', { ports: [{ port: 80 }] }));
      assert.match(str(specOf(a)['clusterIP']), /^10\.96\./);
      assert.notEqual(specOf(a)['clusterIP'], '10.96.0.1');
      const b = await t.create('services', svc('b', { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }));
      assert.deepEqual(specOf(b)['clusterIPs'], ['10.96.0.10']);
      const dup = await t.createError('services', svc('c', { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }));
      assert.equal(dup.httpStatus, 422);
      assert.equal(dup.message, 'Service "c" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated');
      const out = await t.createError('services', svc('c', { clusterIP: '10.0.0.10', ports: [{ port: 80 }] }));
      assert.ok(out.message.includes('the provided IP (10.0.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/16'), out.message);

      const np = await t.create('services', svc('np', { type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30080 }, { name: 'b', port: 443 }] }));
      const ports = specOf(np)['ports'] as JsonObject[];
      assert.equal(ports[0]?.['nodePort'], 30080);
      assert.ok(Number(ports[1]?.['nodePort']) >= 30000 && Number(ports[1]?.['nodePort']) <= 30100);
      const clash = await t.createError('services', svc('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
      assert.equal(clash.message, 'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
      const range = await t.createError('services', svc('np3', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }));
      assert.equal(range.message, 'Service "np3" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-30100');

      // TCP and UDP on the same port share a NodePort.
      const dns = await t.create('services', svc('dns', { type: 'NodePort', ports: [{ name: 'udp', port: 53, protocol: 'UDP' }, { name: 'tcp', port: 53, protocol: 'TCP' }] }));
      const dp = specOf(dns)['ports'] as JsonObject[];
      assert.equal(dp[0]?.['nodePort'], dp[1]?.['nodePort']);

      // LoadBalancer + Local gets a health check node port.
      const lb = await t.create('services', svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }));
      const hc = Number(specOf(lb)['healthCheckNodePort']);
      assert.ok(hc >= 30000 && hc <= 30100);
      assert.equal(specOf(lb)['allocateLoadBalancerNodePorts'], true);
      assert.ok(t.alloc.nodePorts.isAllocated(hc));

      // Delete releases everything.
      await t.registry.delete('services', 'default', 'np', { dryRun: false });
      await t.registry.delete('services', 'default', 'b', { dryRun: false });
      await t.registry.delete('services', 'default', 'lb', { dryRun: false });
      assert.equal(t.alloc.nodePorts.isAllocated(30080), false);
      assert.equal(t.alloc.nodePorts.isAllocated(hc), false);
      assert.equal(t.alloc.ipAllocator('IPv4')?.isAllocated('10.96.0.10'), false);
      await t.create('services', svc('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
      await t.create('services', svc('c', { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }));
    } finally {
      await t.close();
    }
  });

  it('keeps allocations across updates, releases them on type change and supports dry-run', async () => {
    const t = await testRegistry(['10.96.0.0/16'], '30000-30100');
    try {
      const np = await t.create('services', svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80 }] }));
      const ip = str(specOf(np)['clusterIP']);
      const nodePort = Number((specOf(np)['ports'] as JsonObject[])[0]?.['nodePort']);
      // A PUT without clusterIP/nodePort keeps them (patchAllocatedValues).
      const put = await t.registry.update('services', 'default', 'web', svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }), OPTS);
      assert.equal(specOf(put.obj)['clusterIP'], ip);
      assert.equal((specOf(put.obj)['ports'] as JsonObject[])[0]?.['nodePort'], nodePort);
      assert.equal((put.obj['metadata'] as JsonObject)['generation'], 2);
      // Changing the clusterIP is refused.
      await assert.rejects(t.registry.update('services', 'default', 'web', svc('web', { type: 'NodePort', clusterIP: '10.96.5.5', ports: [{ name: 'http', port: 80 }] }), OPTS), /may not change once set/);
      // NodePort → ClusterIP drops and releases the node port.
      const patched = await t.registry.patch('services', 'default', 'web', 'application/merge-patch+json', { spec: { type: 'ClusterIP' } }, OPTS);
      assert.equal((specOf(patched.obj)['ports'] as JsonObject[])[0]?.['nodePort'], undefined);
      assert.equal(specOf(patched.obj)['externalTrafficPolicy'], undefined);
      assert.equal(t.alloc.nodePorts.isAllocated(nodePort), false);
      // ClusterIP → ExternalName releases the ClusterIP.
      await t.registry.patch('services', 'default', 'web', 'application/merge-patch+json', { spec: { type: 'ExternalName', externalName: 'example.com' } }, OPTS);
      assert.equal(t.alloc.ipAllocator('IPv4')?.isAllocated(ip), false);
      // Dry run: the answer has an IP but nothing is held or stored.
      const before = t.alloc.ipAllocator('IPv4')?.allocated;
      const dry = await t.registry.create('services', 'default', svc('dry', { ports: [{ port: 80 }] }), { ...OPTS, dryRun: true });
      assert.match(str(specOf(dry.obj)['clusterIP']), /^10\.96\./);
      assert.equal(t.alloc.ipAllocator('IPv4')?.allocated, before);
      assert.equal(t.store.getLatest('services', 'default/dry'), undefined);
    } finally {
      await t.close();
    }
  });

  it('allocates dual-stack ClusterIPs when asked and configured', async () => {
    const t = await testRegistry(['10.96.0.0/16', 'fd00:10:96::/112']);
    try {
      const s = await t.create('services', svc('ds', { ipFamilyPolicy: 'PreferDualStack', ports: [{ port: 80 }] }));
      assert.deepEqual(specOf(s)['ipFamilies'], ['IPv4', 'IPv6']);
      const ips = specOf(s)['clusterIPs'] as string[];
      assert.equal(ips.length, 2);
      assert.match(ips[1] ?? '', /^fd00:10:96::/);
      const v6 = await t.create('services', svc('v6', { ipFamilies: ['IPv6'], ports: [{ port: 80 }] }));
      assert.deepEqual(specOf(v6)['ipFamilies'], ['IPv6']);
      assert.equal(specOf(v6)['ipFamilyPolicy'], 'SingleStack');
    } finally {
      await t.close();
    }
  });

  it('restores allocations from the store after a restart', async () => {
    const t = await testRegistry(['10.96.0.0/16']);
    try {
      await t.create('services', svc('a', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ port: 80, nodePort: 30500 }] }));
      // A second registry over the same store (what a restart does).
      const { Registry } = await import('../../src/controlplane/registry/registry.ts');
      const { ServiceAllocators } = await import('../../src/controlplane/registry/service/allocation.ts');
      const { serviceStrategy } = await import('../../src/controlplane/registry/service/strategy.ts');
      const { namespaceStrategy } = await import('../../src/controlplane/registry/namespace.ts');
      const { systemClock } = await import('../../src/util/clock.ts');
      const { silentLogger } = await import('../../src/util/logger.ts');
      const alloc = new ServiceAllocators({ serviceCIDRs: ['10.96.0.0/16'], nodePortRange: parsePortRange('30000-32767') });
      const r2 = new Registry(t.store, [namespaceStrategy(), serviceStrategy(alloc)], systemClock, silentLogger());
      await r2.init();
      assert.equal(alloc.ipAllocator('IPv4')?.isAllocated('10.96.0.20'), true);
      assert.equal(alloc.nodePorts.isAllocated(30500), true);
    } finally {
      await t.close();
    }
  });
});
