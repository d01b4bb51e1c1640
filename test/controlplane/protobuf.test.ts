import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtobufObject } from '../../src/controlplane/http/protobuf.ts';
import { ApiError } from '../../src/controlplane/errors.ts';

// Bodies captured from kubectl 1.32: `kubectl create svc nodeport foo --tcp=5678:8080
// --node-port=30001` and `kubectl create ns bar`.
const SERVICE_HEX = '6b3873000a0d0a027631120753657276696365126d0a1f0a03666f6f12001a0022002a003200380042005a0a0a036170701203666f6f12460a200a09353637382d38303830120354435018ae2c2207080010903f1a0028b1ea01120a0a036170701203666f6f1a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200';
const NAMESPACE_HEX = '6b3873000a0f0a02763112094e616d657370616365121b0a130a0362617212001a0022002a0032003800420012001a020a001a002200';

describe('protobuf request bodies', () => {
  it('decodes a Service the way kubectl create service sends it', () => {
    assert.deepEqual(decodeProtobufObject(Buffer.from(SERVICE_HEX, 'hex')), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'foo', labels: { app: 'foo' } },
      spec: {
        ports: [{ name: '5678-8080', protocol: 'TCP', port: 5678, targetPort: 8080, nodePort: 30001 }],
        selector: { app: 'foo' },
        type: 'NodePort',
      },
      status: { loadBalancer: {} },
    });
  });
  it('decodes a Namespace', () => {
    assert.deepEqual(decodeProtobufObject(Buffer.from(NAMESPACE_HEX, 'hex')), {
      apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bar' }, spec: {}, status: {},
    });
  });
  it('rejects other kinds and garbage with a clear 400', () => {
    assert.throws(() => decodeProtobufObject(Buffer.from('{}')), (e: ApiError) => e.httpStatus === 400 && /envelope/.test(e.message));
    const pod = Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x09, 0x0a, 0x02]), Buffer.from('v1'), Buffer.from([0x12, 0x03]), Buffer.from('Pod')]);
    assert.throws(() => decodeProtobufObject(pod), (e: ApiError) => e.httpStatus === 400 && /only accepted for v1 Service and Namespace/.test(e.message));
  });
});
