// The per-Service balancing annotation (kube-proxy-ts.io/load-balancing-algorithm): decoded onto
// every ServicePort of the Service, part of ServicePort equality (so a change triggers a sync),
// and an unknown value is one warn line naming the Service, the annotation and the value,
// with the Service still proxied under the default algorithm.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_LOAD_BALANCING_ALGORITHM, decodeService } from '../../src/model/decode/service.ts';
import { servicePortEqual, servicePortsForFamily } from '../../src/model/service-port.ts';
import { LOAD_BALANCING_ALGORITHMS } from '../../src/model/types.ts';
import { memoryLogger } from '../../src/util/logger.ts';
import { addPort, makeService } from './builders.ts';

const WARN = 40;

function withAnnotation(value: unknown): unknown {
  const svc = makeService('ns1', 'svc1', (s) => {
    addPort(s, 'http', 'TCP', 80);
    addPort(s, 'dns', 'UDP', 53);
  });
  return { ...svc, metadata: { ...svc.metadata, annotations: { [ANNOTATION_LOAD_BALANCING_ALGORITHM]: value } } };
}

describe('load-balancing-algorithm annotation', () => {
  it('uses the documented key', () => {
    assert.equal(ANNOTATION_LOAD_BALANCING_ALGORITHM, 'kube-proxy-ts.io/load-balancing-algorithm');
  });

  for (const algorithm of LOAD_BALANCING_ALGORITHMS) {
    it(`decodes ${algorithm} onto every service port`, () => {
      const { logger, records } = memoryLogger();
      const svc = decodeService(withAnnotation(algorithm), logger);
      assert.ok(svc);
      assert.equal(svc.loadBalancingAlgorithm, algorithm);
      const ports = servicePortsForFamily(svc, 'IPv4');
      assert.ok(ports);
      assert.deepEqual([...ports.values()].map((p) => p.loadBalancingAlgorithm), [algorithm, algorithm]);
      assert.equal(records.filter((r) => r['level'] === WARN).length, 0);
    });
  }

  it('is undefined without the annotation', () => {
    const svc = decodeService(makeService('ns1', 'svc1', (s) => { addPort(s, 'http', 'TCP', 80); }), memoryLogger().logger);
    assert.equal(svc?.loadBalancingAlgorithm, undefined);
  });

  const bad: [string, unknown, string][] = [
    ['unknown name', 'weighted-round-robin', '"weighted-round-robin"'],
    ['wrong case', 'Round-Robin', '"Round-Robin"'],
    ['empty', '', '""'],
  ];
  for (const [name, value, shown] of bad) {
    it(`logs and falls back to the default: ${name}`, () => {
      const { logger, records } = memoryLogger();
      const svc = decodeService(withAnnotation(value), logger);
      assert.ok(svc, 'the Service is still proxied');
      assert.equal(svc.loadBalancingAlgorithm, undefined);
      const warns = records.filter((r) => r['level'] === WARN);
      assert.equal(warns.length, 1);
      const [w] = warns;
      assert.ok(w);
      assert.equal(w['object'], 'ns1/svc1');
      assert.equal(w['field'], `metadata.annotations["${ANNOTATION_LOAD_BALANCING_ALGORITHM}"]`);
      assert.equal(w['value'], shown);
      assert.match(String(w['msg']), /is not one of round-robin, random, least-connections, power-of-two-choices, source-hash; default algorithm used/);
    });
  }

  it('a changed annotation makes the service ports unequal', () => {
    const a = decodeService(withAnnotation('random'), memoryLogger().logger);
    const b = decodeService(withAnnotation('source-hash'), memoryLogger().logger);
    assert.ok(a && b);
    const pa = servicePortsForFamily(a, 'IPv4')?.get('ns1/svc1:http/TCP');
    const pb = servicePortsForFamily(b, 'IPv4')?.get('ns1/svc1:http/TCP');
    assert.ok(pa && pb);
    assert.equal(servicePortEqual(pa, pb), false);
    assert.equal(servicePortEqual(pa, { ...pa }), true);
  });
});
