// Request bodies in Kubernetes' protobuf encoding, which kubectl's typed clients send
// (`kubectl create namespace|service`): the "k8s\0" envelope around a runtime.Unknown whose raw
// bytes are the object. Decoded into the JSON the rest of the server works with. Only the
// kinds (and fields) kubectl creates this way are described: Namespace and Service. Responses
// are always JSON (clients list JSON in Accept).

import { badRequest } from '../errors.ts';
import type { Json, JsonObject } from '../json.ts';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type FieldType = 'string' | 'int' | 'bool' | 'time' | 'intOrString' | 'stringMap' | 'bytes' | Msg;
interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly repeated?: boolean;
  /** Pointer fields in Go: a zero value was set on purpose and is kept. */
  readonly keepZero?: boolean;
}
interface Msg {
  readonly fields: Readonly<Record<number, Field>>;
}

const f = (name: string, type: FieldType, opts: { repeated?: boolean; keepZero?: boolean } = {}): Field => ({ name, type, ...opts });
const msg = (fields: Record<number, Field>): Msg => ({ fields });

const TYPE_META = msg({ 1: f('apiVersion', 'string'), 2: f('kind', 'string') });
const UNKNOWN = msg({ 1: f('typeMeta', TYPE_META), 2: f('raw', 'bytes'), 3: f('contentEncoding', 'string'), 4: f('contentType', 'string') });
const OWNER_REF = msg({ 1: f('kind', 'string'), 3: f('name', 'string'), 4: f('uid', 'string'), 5: f('apiVersion', 'string'), 6: f('controller', 'bool', { keepZero: true }), 7: f('blockOwnerDeletion', 'bool', { keepZero: true }) });
const OBJECT_META = msg({
  1: f('name', 'string'), 2: f('generateName', 'string'), 3: f('namespace', 'string'), 4: f('selfLink', 'string'),
  5: f('uid', 'string'), 6: f('resourceVersion', 'string'), 7: f('generation', 'int'), 8: f('creationTimestamp', 'time'),
  9: f('deletionTimestamp', 'time'), 10: f('deletionGracePeriodSeconds', 'int', { keepZero: true }),
  11: f('labels', 'stringMap'), 12: f('annotations', 'stringMap'), 13: f('ownerReferences', OWNER_REF, { repeated: true }),
  14: f('finalizers', 'string', { repeated: true }),
});
const CONDITION = msg({ 1: f('type', 'string'), 2: f('status', 'string'), 3: f('observedGeneration', 'int'), 4: f('lastTransitionTime', 'time'), 5: f('reason', 'string'), 6: f('message', 'string') });
const SERVICE_PORT = msg({ 1: f('name', 'string'), 2: f('protocol', 'string'), 3: f('port', 'int'), 4: f('targetPort', 'intOrString'), 5: f('nodePort', 'int'), 6: f('appProtocol', 'string') });
const SERVICE_SPEC = msg({
  1: f('ports', SERVICE_PORT, { repeated: true }), 2: f('selector', 'stringMap'), 3: f('clusterIP', 'string'), 4: f('type', 'string'),
  5: f('externalIPs', 'string', { repeated: true }), 7: f('sessionAffinity', 'string'), 8: f('loadBalancerIP', 'string'),
  9: f('loadBalancerSourceRanges', 'string', { repeated: true }), 10: f('externalName', 'string'), 11: f('externalTrafficPolicy', 'string'),
  12: f('healthCheckNodePort', 'int'), 13: f('publishNotReadyAddresses', 'bool'),
  14: f('sessionAffinityConfig', msg({ 1: f('clientIP', msg({ 1: f('timeoutSeconds', 'int', { keepZero: true }) })) })),
  17: f('ipFamilyPolicy', 'string', { keepZero: true }), 18: f('clusterIPs', 'string', { repeated: true }), 19: f('ipFamilies', 'string', { repeated: true }),
  20: f('allocateLoadBalancerNodePorts', 'bool', { keepZero: true }), 21: f('loadBalancerClass', 'string', { keepZero: true }),
  22: f('internalTrafficPolicy', 'string', { keepZero: true }), 23: f('trafficDistribution', 'string', { keepZero: true }),
});
const PORT_STATUS = msg({ 1: f('port', 'int'), 2: f('protocol', 'string'), 3: f('error', 'string', { keepZero: true }) });
const LB_INGRESS = msg({ 1: f('ip', 'string'), 2: f('hostname', 'string'), 3: f('ipMode', 'string', { keepZero: true }), 4: f('ports', PORT_STATUS, { repeated: true }) });
const SERVICE = msg({
  1: f('metadata', OBJECT_META), 2: f('spec', SERVICE_SPEC),
  3: f('status', msg({ 1: f('loadBalancer', msg({ 1: f('ingress', LB_INGRESS, { repeated: true }) })), 2: f('conditions', CONDITION, { repeated: true }) })),
});
const NAMESPACE = msg({
  1: f('metadata', OBJECT_META), 2: f('spec', msg({ 1: f('finalizers', 'string', { repeated: true }) })),
  3: f('status', msg({ 1: f('phase', 'string'), 2: f('conditions', msg({ 1: f('type', 'string'), 2: f('status', 'string'), 4: f('lastTransitionTime', 'time'), 5: f('reason', 'string'), 6: f('message', 'string') }), { repeated: true }) })),
});

const KINDS: Readonly<Record<string, Msg>> = { 'v1/Service': SERVICE, 'v1/Namespace': NAMESPACE };

class Reader {
  private pos = 0;
  private readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw badRequest('protobuf: truncated varint');
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw badRequest('protobuf: varint too long');
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw badRequest('protobuf: truncated field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${String(wire)}`);
  }
}

function toInt(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function decodeTime(buf: Buffer): string | undefined {
  const r = new Reader(buf);
  let seconds = 0;
  while (!r.done) {
    const tag = Number(r.varint());
    if (tag >> 3 === 1 && (tag & 7) === 0) seconds = toInt(r.varint());
    else r.skip(tag & 7);
  }
  return seconds === 0 ? undefined : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function decodeIntOrString(buf: Buffer): Json | undefined {
  const r = new Reader(buf);
  let type = 0;
  let intVal = 0;
  let strVal = '';
  while (!r.done) {
    const tag = Number(r.varint());
    const field = tag >> 3;
    if (field === 1) type = toInt(r.varint());
    else if (field === 2) intVal = toInt(r.varint());
    else if (field === 3) strVal = r.bytes().toString('utf8');
    else r.skip(tag & 7);
  }
  if (type === 1) return strVal === '' ? undefined : strVal;
  return intVal === 0 ? undefined : intVal;
}

function decodeMapEntry(buf: Buffer): [string, string] {
  const r = new Reader(buf);
  let k = '';
  let v = '';
  while (!r.done) {
    const tag = Number(r.varint());
    if (tag >> 3 === 1) k = r.bytes().toString('utf8');
    else if (tag >> 3 === 2) v = r.bytes().toString('utf8');
    else r.skip(tag & 7);
  }
  return [k, v];
}

function decodeMessage(buf: Buffer, m: Msg): JsonObject {
  const out: JsonObject = {};
  const r = new Reader(buf);
  while (!r.done) {
    const tag = Number(r.varint());
    const field = m.fields[tag >> 3];
    const wire = tag & 7;
    if (!field) {
      r.skip(wire);
      continue;
    }
    let value: Json | undefined;
    const t = field.type;
    if (t === 'string') value = r.bytes().toString('utf8');
    else if (t === 'bytes') value = r.bytes().toString('base64');
    else if (t === 'int') value = toInt(r.varint());
    else if (t === 'bool') value = r.varint() !== 0n;
    else if (t === 'time') value = decodeTime(r.bytes());
    else if (t === 'intOrString') value = decodeIntOrString(r.bytes());
    else if (t === 'stringMap') {
      const [k, v] = decodeMapEntry(r.bytes());
      const existing = out[field.name];
      const map: JsonObject = typeof existing === 'object' && existing !== null && !Array.isArray(existing) ? existing : {};
      map[k] = v;
      out[field.name] = map;
      continue;
    } else value = decodeMessage(r.bytes(), t);
    if (field.repeated) {
      const existing = out[field.name];
      const arr: Json[] = Array.isArray(existing) ? existing : [];
      arr.push(value ?? '');
      out[field.name] = arr;
      continue;
    }
    if (value === undefined) continue;
    if (!field.keepZero && (value === '' || value === 0 || value === false)) continue;
    out[field.name] = value;
  }
  return out;
}

/** True when the Content-Type is Kubernetes protobuf. */
export function isProtobuf(contentType: string): boolean {
  return contentType === 'application/vnd.kubernetes.protobuf';
}

/** Decodes a protobuf request body into an API object (JSON form). */
export function decodeProtobufObject(body: Buffer): JsonObject {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) throw badRequest('protobuf: missing the k8s envelope');
  const unknown = decodeMessage(body.subarray(MAGIC.length), UNKNOWN);
  const tm = unknown['typeMeta'];
  const apiVersion = typeof tm === 'object' && tm !== null && !Array.isArray(tm) && typeof tm['apiVersion'] === 'string' ? tm['apiVersion'] : '';
  const kind = typeof tm === 'object' && tm !== null && !Array.isArray(tm) && typeof tm['kind'] === 'string' ? tm['kind'] : '';
  const spec = KINDS[`${apiVersion}/${kind}`];
  if (!spec) {
    throw badRequest(`protobuf request bodies are only accepted for v1 Service and Namespace (got ${JSON.stringify(`${apiVersion}/${kind}`)}); send JSON (e.g. kubectl apply -f)`);
  }
  const raw = typeof unknown['raw'] === 'string' ? Buffer.from(unknown['raw'], 'base64') : Buffer.alloc(0);
  return { apiVersion, kind, ...decodeMessage(raw, spec) };
}
