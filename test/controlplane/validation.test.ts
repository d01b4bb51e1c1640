import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Json, JsonObject } from '../../src/controlplane/json.ts';
import { testRegistry, type TestRegistry } from './registry-helpers.ts';
import { str } from './helpers.ts';

const svc = (name: string, spec: Record<string, Json>): Json => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec });
const slice = (name: string, body: Record<string, Json>): Json => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, labels: { 'kubernetes.io/service-name': 'x' } }, ...body });

describe('validation and defaulting', () => {
  let t: TestRegistry;
  before(async () => { t = await testRegistry(); });
  after(async () => { await t.close(); });

  it('defaults a Service like kube-apiserver', async () => {
    const o = await t.create('services', svc('web', { ports: [{ port: 80 }], selector: { app: 'web' } }));
    const spec = o['spec'] as JsonObject;
    assert.equal(spec['type'], 'ClusterIP');
    assert.equal(spec['sessionAffinity'], 'None');
    assert.equal(spec['internalTrafficPolicy'], 'Cluster');
    assert.equal(spec['ipFamilyPolicy'], 'SingleStack');
    assert.deepEqual(spec['ipFamilies'], ['IPv4']);
    assert.deepEqual(spec['ports'], [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
    assert.equal(spec['externalTrafficPolicy'], undefined);
    assert.deepEqual(o['status'], { loadBalancer: {} });
    const meta = o['metadata'] as JsonObject;
    assert.equal(meta['generation'], 1);
    assert.match(str(meta['uid']), /^[0-9a-f-]{36}$/);
    assert.match(str(meta['creationTimestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('defaults ClientIP affinity timeout and external traffic policy', async () => {
    const o = await t.create('services', svc('np', { type: 'NodePort', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] }));
    const spec = o['spec'] as JsonObject;
    assert.deepEqual(spec['sessionAffinityConfig'], { clientIP: { timeoutSeconds: 10800 } });
    assert.equal(spec['externalTrafficPolicy'], 'Cluster');
  });

  const invalidServices: [string, Json, string[]][] = [
    ['port 0', svc('a', { ports: [{ port: 0, targetPort: 80 }] }), ['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']],
    ['port too large', svc('a', { ports: [{ port: 70000 }] }), ['spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive']],
    ['bad protocol', svc('a', { ports: [{ port: 80, protocol: 'ICMP' }] }), ['spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']],
    ['no ports', svc('a', {}), ['spec.ports: Required value']],
    ['unnamed ports', svc('a', { ports: [{ port: 80 }, { port: 81 }] }), ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']],
    ['duplicate port names', svc('a', { ports: [{ name: 'x', port: 80 }, { name: 'x', port: 81 }] }), ['spec.ports[1].name: Duplicate value: "x"']],
    ['duplicate ports', svc('a', { ports: [{ name: 'x', port: 80 }, { name: 'y', port: 80 }] }), ['spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}']],
    ['bad targetPort name', svc('a', { ports: [{ port: 80, targetPort: 'Not_A_Name' }] }), ['spec.ports[0].targetPort: Invalid value: "Not_A_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)']],
    ['bad type', svc('a', { type: 'Magic', ports: [{ port: 80 }] }), ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']],
    ['bad clusterIP', svc('a', { clusterIP: '10.96.0.300', ports: [{ port: 80 }] }), ['spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']],
    ['bad externalIP', svc('a', { externalIPs: ['127.0.0.1'], ports: [{ port: 80 }] }), ['spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)']],
    ['nodePort on ClusterIP', svc('a', { ports: [{ port: 80, nodePort: 30001 }] }), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]],
    ['ETP on ClusterIP', svc('a', { externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }), ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']],
    ['affinity timeout', svc('a', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } }, ports: [{ port: 80 }] }), ['spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400']],
    ['headless LoadBalancer', svc('a', { type: 'LoadBalancer', clusterIP: 'None', ports: [{ port: 80 }] }), ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"]],
    ['ExternalName without name', svc('a', { type: 'ExternalName' }), ['spec.externalName: Required value']],
    ['ExternalName with clusterIP', svc('a', { type: 'ExternalName', externalName: 'example.com', clusterIP: '10.96.0.10' }), ['spec.clusterIPs: Forbidden: may not be set for ExternalName services']],
    ['source ranges on ClusterIP', svc('a', { loadBalancerSourceRanges: ['10.0.0.0/8'], ports: [{ port: 80 }] }), ["spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]],
    ['bad selector', svc('a', { selector: { app: 'bad value' }, ports: [{ port: 80 }] }), ['spec.selector: Invalid value: "bad value"']],
    ['name not DNS-1035', svc('1abc', { ports: [{ port: 80 }] }), ['metadata.name: Invalid value: "1abc": a DNS-1035 label must consist of lower case alphanumeric characters']],
    ['name with dots', svc('a.b', { ports: [{ port: 80 }] }), ['metadata.name: Invalid value: "a.b": a DNS-1035 label']],
    ['RequireDualStack on single-stack', svc('a', { ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 80 }] }), ['spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services']],
    ['IPv6 family not configured', svc('a', { ipFamilies: ['IPv6'], ports: [{ port: 80 }] }), ['spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster']],
  ];
  for (const [name, body, want] of invalidServices) {
    it(`rejects a Service: ${name}`, async () => {
      const err = await t.createError('services', body);
      assert.equal(err.httpStatus, 422, err.message);
      assert.equal(err.code, 'Invalid');
      const st = err.toStatus();
      assert.equal(st['kind'], 'Status');
      assert.equal(st['status'], 'Failure');
      for (const w of want) assert.ok(err.message.includes(w), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(w)}`);
      const fields = (err.details?.causes ?? []).map((c) => c.field);
      for (const w of want) assert.ok(fields.includes(w.split(':')[0]), `causes name the field of ${w}: ${JSON.stringify(fields)}`);
    });
  }

  it('reports type errors and unknown fields like the Go decoder', async () => {
    const typeErr = await t.createError('services', svc('a', { ports: [{ port: 'eighty' }] }));
    assert.equal(typeErr.httpStatus, 400);
    assert.equal(typeErr.message, 'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32');
    const unknown = await t.createError('services', svc('a', { ports: [{ port: 80, bogus: 1 }], portz: [] }));
    assert.equal(unknown.httpStatus, 400);
    assert.equal(unknown.message, 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.ports[0].bogus", unknown field "spec.portz"');
  });

  it('accepts headless and ExternalName services', async () => {
    const h = await t.create('services', svc('headless', { clusterIP: 'None', selector: { app: 'x' } }));
    assert.deepEqual((h['spec'] as JsonObject)['clusterIPs'], ['None']);
    const e = await t.create('services', svc('ext', { type: 'ExternalName', externalName: 'db.example.com' }));
    const spec = e['spec'] as JsonObject;
    assert.equal(spec['clusterIP'], undefined);
    assert.equal(spec['internalTrafficPolicy'], undefined);
  });

  it('requires the namespace to exist', async () => {
    const err = await t.createError('services', svc('a', { ports: [{ port: 80 }] }), 'nope');
    assert.equal(err.httpStatus, 404);
    assert.equal(err.message, 'namespaces "nope" not found');
  });

  it('defaults and validates EndpointSlices', async () => {
    const o = await t.create('endpointslices', slice('ok', { addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true }, nodeName: 'node-1' }], ports: [{ port: 8080 }] }));
    assert.deepEqual(o['ports'], [{ port: 8080, name: '', protocol: 'TCP' }]);
    const cases: [string, Json, string[]][] = [
      ['addressType mismatch', slice('a', { addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }] }), ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address']],
      ['bad address', slice('a', { addressType: 'IPv6', endpoints: [{ addresses: ['zzz'] }] }), ['endpoints[0].addresses[0]: Invalid value: "zzz": must be a valid IPv6 address']],
      ['no addresses', slice('a', { addressType: 'IPv4', endpoints: [{ addresses: [] }] }), ['endpoints[0].addresses: Required value: must contain at least 1 address']],
      ['loopback', slice('a', { addressType: 'IPv4', endpoints: [{ addresses: ['127.0.0.1'] }] }), ['endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range']],
      ['missing addressType', slice('a', { endpoints: [] }), ['addressType: Required value']],
      ['bad addressType', slice('a', { addressType: 'IPv5' }), ['addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"']],
      ['duplicate port names', slice('a', { addressType: 'IPv4', ports: [{ name: 'a', port: 1 }, { name: 'a', port: 2 }] }), ['ports[1].name: Duplicate value: "a"']],
      ['bad port', slice('a', { addressType: 'IPv4', ports: [{ name: 'a', port: 0 }] }), ['ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']],
      ['bad nodeName', slice('a', { addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], nodeName: 'Node_1' }] }), ['endpoints[0].nodeName: Invalid value: "Node_1"']],
      ['name not a subdomain', slice('Bad_Name', { addressType: 'IPv4' }), ['metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain']],
    ];
    for (const [name, body, want] of cases) {
      const err = await t.createError('endpointslices', body);
      assert.equal(err.httpStatus, 422, `${name}: ${err.message}`);
      assert.ok(err.message.startsWith('EndpointSlice.discovery.k8s.io "'), err.message);
      for (const w of want) assert.ok(err.message.includes(w), `${name}: ${JSON.stringify(err.message)} should include ${JSON.stringify(w)}`);
    }
  });

  it('validates Nodes and Namespaces', async () => {
    const n = await t.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: { podCIDR: '10.244.1.0/24' } }, '');
    assert.deepEqual((n['spec'] as JsonObject)['podCIDRs'], ['10.244.1.0/24']);
    const bad = await t.createError('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-2' }, spec: { podCIDRs: ['10.244.0.0/33'] } }, '');
    assert.ok(bad.message.includes('spec.podCIDRs[0]: Invalid value: "10.244.0.0/33"'), bad.message);
    const ns = await t.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } }, '');
    assert.deepEqual(ns['status'], { phase: 'Active' });
    assert.equal(((ns['metadata'] as JsonObject)['labels'] as JsonObject)['kubernetes.io/metadata.name'], 'team-a');
    const badNs = await t.createError('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Team.A' } }, '');
    assert.ok(badNs.message.includes('metadata.name: Invalid value: "Team.A": a lowercase RFC 1123 label'), badNs.message);
  });
});
