// discovery.k8s.io/v1 EndpointSlice JSON -> DecodedEndpointSlice: what kube-proxy reads from a
// slice, validated. Skipping policy: see ./common.ts (a bad endpoint or port drops just that
// entry; a bad slice-level field drops the slice).

import type { Logger } from '../../util/logger.ts';
import { parseIP } from '../ip.ts';
import type { IPFamily, Protocol, ServiceKey } from '../types.ts';
import {
  SkipObject, decodeMetadata, intField, isRecord, labelSkipReason, listField, logIgnored, logInvalid, refOf, showValue,
  type Json, type ObjectRef,
} from './common.ts';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const ANNOTATION_LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

export interface DecodedEndpointPort {
  /** "" for the Service's unnamed port. */
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface DecodedEndpoint {
  /** Canonical IP (addresses[0]; the API says all addresses are fungible, upstream uses the first). */
  readonly ip: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly nodeName: string | undefined;
  readonly zone: string | undefined;
  readonly zoneHints: ReadonlySet<string>;
  readonly nodeHints: ReadonlySet<string>;
}

export interface DecodedEndpointSlice {
  readonly namespace: string;
  readonly name: string;
  /** Value of the kubernetes.io/service-name label. */
  readonly serviceName: string;
  readonly serviceKey: ServiceKey;
  /** From addressType (FQDN slices are not decoded). */
  readonly family: IPFamily;
  readonly ports: readonly DecodedEndpointPort[];
  readonly endpoints: readonly DecodedEndpoint[];
  /** last-change-trigger-time annotation, ms since the epoch. */
  readonly triggerTime: number | undefined;
}

export interface DecodeEndpointSliceOptions {
  readonly serviceProxyName?: string | undefined;
}

const EMPTY: ReadonlySet<string> = Object.freeze(new Set<string>());
const PROTOCOLS: ReadonlySet<string> = new Set<Protocol>(['TCP', 'UDP', 'SCTP']);
// RFC 3339 with optional fraction (Go's time.RFC3339Nano accepts any number of digits).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

class Ctx {
  readonly logger: Logger;
  readonly ref: ObjectRef;
  constructor(logger: Logger, ref: ObjectRef) {
    this.logger = logger;
    this.ref = ref;
  }
  fail(field: string, value: unknown, problem: string): never {
    logInvalid(this.logger, this.ref, field, value, problem, 'EndpointSlice skipped');
    throw new SkipObject();
  }
  drop(field: string, value: unknown, problem: string, what: string): null {
    logInvalid(this.logger, this.ref, field, value, problem, `${what} skipped`);
    return null;
  }
}

function decodePort(ctx: Ctx, p: unknown, f: string): DecodedEndpointPort | null {
  if (!isRecord(p)) return ctx.drop(f, p, 'is not an object', 'port');
  // upstream ignores ports with a nil name or a nil/zero port number.
  const name = p['name'];
  if (typeof name !== 'string') return ctx.drop(`${f}.name`, name, 'is not a string', 'port');
  const port = intField(p['port'], 1, 65535);
  if (port === undefined) return ctx.drop(`${f}.port`, p['port'], 'is not a valid port', 'port');
  const protocol = p['protocol'] ?? 'TCP';
  if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) {
    return ctx.drop(`${f}.protocol`, protocol, 'is not a supported protocol (TCP, UDP, SCTP)', 'port');
  }
  return Object.freeze({ name, port, protocol: protocol as Protocol });
}

function decodePorts(ctx: Ctx, raw: readonly unknown[]): DecodedEndpointPort[] {
  const out: DecodedEndpointPort[] = [];
  const seen = new Map<string, number>();
  raw.forEach((p, i) => {
    const f = `ports[${i}]`;
    const port = decodePort(ctx, p, f);
    if (port === null) return;
    const id = `${port.name}/${port.protocol}`;
    const first = seen.get(id);
    if (first !== undefined) {
      ctx.drop(f, { name: port.name, protocol: port.protocol }, `duplicates ports[${first}]`, 'port');
      return;
    }
    seen.set(id, i);
    out.push(port);
  });
  return out;
}

function optionalString(v: unknown): string | undefined | null {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : null;
}

/** hints.forZones / hints.forNodes: a bad entry is dropped alone. */
function decodeHints(ctx: Ctx, field: string, raw: unknown): ReadonlySet<string> | null {
  const list = listField(raw);
  if (list === undefined) return ctx.drop(field, raw, 'is not a list', 'endpoint');
  if (list.length === 0) return EMPTY;
  const out = new Set<string>();
  list.forEach((h, i) => {
    const name = isRecord(h) ? h['name'] : undefined;
    if (typeof name === 'string') out.add(name);
    else ctx.drop(`${field}[${i}]`, h, 'has no string name', 'hint');
  });
  return out.size === 0 ? EMPTY : out;
}

function condition(v: unknown): boolean | undefined | null {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'boolean' ? v : null;
}

function decodeEndpoint(ctx: Ctx, e: unknown, i: number, family: IPFamily): DecodedEndpoint | null {
  const f = `endpoints[${i}]`;
  if (!isRecord(e)) return ctx.drop(f, e, 'is not an object', 'endpoint');
  const addresses = listField(e['addresses']);
  const first = addresses?.[0];
  if (first === undefined) return ctx.drop(`${f}.addresses`, e['addresses'], 'is not a non-empty list', 'endpoint');
  const parsed = typeof first === 'string' ? parseIP(first) : undefined;
  if (parsed === undefined) return ctx.drop(`${f}.addresses[0]`, first, 'is not a valid IP address', 'endpoint');
  if (parsed.family !== family) return ctx.drop(`${f}.addresses[0]`, first, `is not an ${family} address (addressType ${family})`, 'endpoint');
  const conditions = e['conditions'] ?? {};
  if (!isRecord(conditions)) return ctx.drop(`${f}.conditions`, conditions, 'is not an object', 'endpoint');
  const ready = condition(conditions['ready']);
  const serving = condition(conditions['serving']);
  const terminating = condition(conditions['terminating']);
  if (ready === null) return ctx.drop(`${f}.conditions.ready`, conditions['ready'], 'is not a boolean', 'endpoint');
  if (serving === null) return ctx.drop(`${f}.conditions.serving`, conditions['serving'], 'is not a boolean', 'endpoint');
  if (terminating === null) return ctx.drop(`${f}.conditions.terminating`, conditions['terminating'], 'is not a boolean', 'endpoint');
  const nodeName = optionalString(e['nodeName']);
  if (nodeName === null) return ctx.drop(`${f}.nodeName`, e['nodeName'], 'is not a string', 'endpoint');
  const zone = optionalString(e['zone']);
  if (zone === null) return ctx.drop(`${f}.zone`, e['zone'], 'is not a string', 'endpoint');
  const hints = e['hints'] ?? {};
  if (!isRecord(hints)) return ctx.drop(`${f}.hints`, hints, 'is not an object', 'endpoint');
  const zoneHints = decodeHints(ctx, `${f}.hints.forZones`, hints['forZones']);
  if (zoneHints === null) return null;
  const nodeHints = decodeHints(ctx, `${f}.hints.forNodes`, hints['forNodes']);
  if (nodeHints === null) return null;
  // Conditions default as upstream kube-proxy reads them (endpointslicecache.go): ready nil
  // => true, serving nil => true, terminating nil => false. (The API documentation says serving
  // nil defers to ready; the two differ only for ready=false with serving unset, which the
  // EndpointSlice controller never produces, and a drop-in must behave like upstream.)
  return Object.freeze({
    ip: parsed.ip, ready: ready ?? true, serving: serving ?? true, terminating: terminating ?? false,
    nodeName, zone, zoneHints, nodeHints,
  });
}

function decodeTriggerTime(ctx: Ctx, meta: Json): number | undefined {
  const annotations = meta['annotations'];
  const v = isRecord(annotations) ? annotations[ANNOTATION_LAST_CHANGE_TRIGGER_TIME] : undefined;
  if (v === undefined) return undefined;
  const t = typeof v === 'string' && RFC3339.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) {
    ctx.drop(`metadata.annotations[${JSON.stringify(ANNOTATION_LAST_CHANGE_TRIGGER_TIME)}]`, v, 'is not an RFC 3339 time', 'annotation');
    return undefined;
  }
  return t;
}

/**
 * Decodes an EndpointSlice as served by the API. Returns undefined for slices we do not use:
 * FQDN or unknown address types, headless or another proxy's label (debug log), or unusable
 * ones (one warn line). Throws only on a bug in this module.
 */
export function decodeEndpointSlice(obj: unknown, logger: Logger, opts: DecodeEndpointSliceOptions = {}): DecodedEndpointSlice | undefined {
  const ctx = new Ctx(logger, refOf('EndpointSlice', obj));
  try {
    const meta = decodeMetadata(logger, ctx.ref, obj, true);
    const skip = labelSkipReason(meta.labels, opts.serviceProxyName);
    if (skip !== undefined) {
      logIgnored(logger, ctx.ref, skip);
      return undefined;
    }
    const slice = obj as Json;
    const addressType = slice['addressType'];
    if (typeof addressType !== 'string') return ctx.fail('addressType', addressType, 'is not a string');
    if (addressType !== 'IPv4' && addressType !== 'IPv6') {
      logIgnored(logger, ctx.ref, `addressType ${showValue(addressType)} is not proxied`);
      return undefined;
    }
    const serviceName = meta.labels.get(LABEL_SERVICE_NAME);
    if (serviceName === undefined || serviceName === '') {
      return ctx.fail(`metadata.labels[${JSON.stringify(LABEL_SERVICE_NAME)}]`, serviceName, 'is missing or empty');
    }
    const rawPorts = listField(slice['ports']) ?? ctx.fail('ports', slice['ports'], 'is not a list');
    const rawEndpoints = listField(slice['endpoints']) ?? ctx.fail('endpoints', slice['endpoints'], 'is not a list');
    const ports = decodePorts(ctx, rawPorts);
    const endpoints: DecodedEndpoint[] = [];
    for (let i = 0; i < rawEndpoints.length; i++) {
      const ep = decodeEndpoint(ctx, rawEndpoints[i], i, addressType);
      if (ep !== null) endpoints.push(ep);
    }
    return Object.freeze({
      namespace: meta.namespace, name: meta.name, serviceName, serviceKey: `${meta.namespace}/${serviceName}`,
      family: addressType, ports, endpoints, triggerTime: decodeTriggerTime(ctx, meta.raw),
    });
  } catch (err) {
    if (err instanceof SkipObject) return undefined;
    throw err;
  }
}
