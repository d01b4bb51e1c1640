// core/v1 Service JSON -> DecodedService: everything kube-proxy reads from a Service, validated
// and canonicalised, but not yet split per IP family (see ../service-port.ts for that).
// Skipping policy: see ./common.ts.

import type { Logger } from '../../util/logger.ts';
import { parseCIDR, parseIP, type ParsedCIDR, type ParsedIP } from '../ip.ts';
import { LOAD_BALANCING_ALGORITHMS, type IPFamily, type LoadBalancingAlgorithm, type Protocol, type ServiceKey, type SessionAffinity } from '../types.ts';
import {
  SkipObject, decodeMetadata, intField, isRecord, labelSkipReason, listField, logIgnored, logInvalid, refOf, showValue,
  type Json, type ObjectRef,
} from './common.ts';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

export interface DecodedServicePort {
  /** "" for an unnamed port. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** 0 when none. */
  readonly nodePort: number;
}

export interface DecodedService {
  readonly namespace: string;
  readonly name: string;
  readonly key: ServiceKey;
  readonly type: ServiceType;
  /** At most one cluster IP per family (spec.clusterIPs, falling back to spec.clusterIP). */
  readonly clusterIPs: Readonly<Partial<Record<IPFamily, string>>>;
  readonly ports: readonly DecodedServicePort[];
  readonly externalIPs: readonly ParsedIP[];
  /** LoadBalancer ingress IPs in VIP mode (`ipMode` unset or "VIP"). */
  readonly loadBalancerVIPs: readonly ParsedIP[];
  readonly loadBalancerSourceRanges: readonly ParsedCIDR[];
  readonly sessionAffinity: SessionAffinity;
  /** Upstream's apiservice.ExternalPolicyLocal: externally accessible and eTP Local. */
  readonly externalPolicyLocal: boolean;
  readonly internalPolicyLocal: boolean;
  /** Only when upstream's NeedsHealthCheck holds (LoadBalancer with eTP Local); else 0. */
  readonly healthCheckNodePort: number;
  readonly trafficDistribution: string | undefined;
  /** From the ANNOTATION_LOAD_BALANCING_ALGORITHM annotation; undefined when absent or invalid. */
  readonly loadBalancingAlgorithm: LoadBalancingAlgorithm | undefined;
}

export interface DecodeServiceOptions {
  /** Our proxy name: Services labelled service-proxy-name with exactly this value are ours. */
  readonly serviceProxyName?: string | undefined;
}

export const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800;
/**
 * Per-Service balancing algorithm for the userspace dataplane, one of LOAD_BALANCING_ALGORITHMS
 * (e.g. `kube-proxy-ts.io/load-balancing-algorithm: least-connections`). An unknown value is
 * logged (naming the Service, the annotation and the value) and the configured default is used.
 */
export const ANNOTATION_LOAD_BALANCING_ALGORITHM = 'kube-proxy-ts.io/load-balancing-algorithm';
const ALGORITHMS: ReadonlySet<string> = new Set(LOAD_BALANCING_ALGORITHMS);
/** API validation: 0 < timeoutSeconds <= 86400. */
const MAX_CLIENT_IP_TIMEOUT_SECONDS = 86400;
const PROTOCOLS: ReadonlySet<string> = new Set<Protocol>(['TCP', 'UDP', 'SCTP']);
const SERVICE_TYPES: ReadonlySet<string> = new Set<ServiceType>(['ClusterIP', 'NodePort', 'LoadBalancer']);

/** Decoding state for one object: the logger and the object's identity. */
class Ctx {
  readonly logger: Logger;
  readonly ref: ObjectRef;
  constructor(logger: Logger, ref: ObjectRef) {
    this.logger = logger;
    this.ref = ref;
  }
  /** Logs and abandons the whole Service. */
  fail(field: string, value: unknown, problem: string): never {
    logInvalid(this.logger, this.ref, field, value, problem, 'Service skipped');
    throw new SkipObject();
  }
  /** Logs that one list entry was dropped. */
  drop(field: string, value: unknown, problem: string, what: string): null {
    logInvalid(this.logger, this.ref, field, value, problem, `${what} skipped`);
    return null;
  }
  list(field: string, v: unknown): readonly unknown[] {
    const l = listField(v);
    return l ?? this.fail(field, v, 'is not a list');
  }
  record(field: string, v: unknown): Json {
    if (v === undefined || v === null) return {};
    return isRecord(v) ? v : this.fail(field, v, 'is not an object');
  }
}

function decodePort(ctx: Ctx, entry: unknown, f: string): DecodedServicePort | null {
  if (!isRecord(entry)) return ctx.drop(f, entry, 'is not an object', 'port');
  const name = entry['name'] ?? '';
  if (typeof name !== 'string') return ctx.drop(`${f}.name`, name, 'is not a string', 'port');
  const protocol = entry['protocol'] ?? 'TCP';
  if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) {
    return ctx.drop(`${f}.protocol`, protocol, 'is not a supported protocol (TCP, UDP, SCTP)', 'port');
  }
  const port = intField(entry['port'], 1, 65535);
  if (port === undefined) return ctx.drop(`${f}.port`, entry['port'], 'is not a valid port', 'port');
  const rawNodePort = entry['nodePort'] ?? 0;
  const nodePort = intField(rawNodePort, 0, 65535);
  if (nodePort === undefined) return ctx.drop(`${f}.nodePort`, rawNodePort, 'is not a valid node port', 'port');
  return Object.freeze({ name, protocol: protocol as Protocol, port, nodePort });
}

function decodePorts(ctx: Ctx, raw: readonly unknown[]): DecodedServicePort[] {
  const ports: DecodedServicePort[] = [];
  const seen = new Map<string, number>();
  raw.forEach((entry, i) => {
    const f = `spec.ports[${i}]`;
    const port = decodePort(ctx, entry, f);
    if (port === null) return;
    // API validation makes (name, protocol) unique; if not, the first entry wins.
    const id = `${port.name}/${port.protocol}`;
    const first = seen.get(id);
    if (first !== undefined) {
      ctx.drop(f, { name: port.name, protocol: port.protocol }, `duplicates spec.ports[${first}]`, 'port');
      return;
    }
    seen.set(id, i);
    ports.push(port);
  });
  return ports;
}

function decodeIPList(ctx: Ctx, field: string, raw: readonly unknown[], what: string): ParsedIP[] {
  const out: ParsedIP[] = [];
  raw.forEach((v, i) => {
    const parsed = typeof v === 'string' ? parseIP(v) : undefined;
    if (parsed === undefined) ctx.drop(`${field}[${i}]`, v, 'is not a valid IP address', what);
    else out.push(parsed);
  });
  return out;
}

function decodeClusterIPs(ctx: Ctx, spec: Json, clusterIP: string): Partial<Record<IPFamily, string>> {
  const primary = parseIP(clusterIP) ?? ctx.fail('spec.clusterIP', clusterIP, 'is not a valid IP address');
  const out: Partial<Record<IPFamily, string>> = {};
  const list = ctx.list('spec.clusterIPs', spec['clusterIPs']);
  for (const ip of decodeIPList(ctx, 'spec.clusterIPs', list, 'cluster IP')) out[ip.family] ??= ip.ip;
  if (list.length === 0 || (out.IPv4 === undefined && out.IPv6 === undefined)) out[primary.family] = primary.ip;
  return out;
}

function decodeLoadBalancerVIPs(ctx: Ctx, obj: Json): ParsedIP[] {
  const status = ctx.record('status', obj['status']);
  const lb = ctx.record('status.loadBalancer', status['loadBalancer']);
  const out: ParsedIP[] = [];
  ctx.list('status.loadBalancer.ingress', lb['ingress']).forEach((ing, i) => {
    const ip = decodeIngress(ctx, ing, `status.loadBalancer.ingress[${i}]`);
    if (ip !== null) out.push(ip);
  });
  return out;
}

/** One LB ingress: its IP when in VIP mode (upstream IsVIPMode: ipMode unset or "VIP"). */
function decodeIngress(ctx: Ctx, ing: unknown, f: string): ParsedIP | null {
  if (!isRecord(ing)) return ctx.drop(f, ing, 'is not an object', 'load-balancer ingress');
  const ip = ing['ip'];
  if (ip === undefined || ip === null || ip === '') return null; // hostname-only ingress: not a VIP
  const parsed = typeof ip === 'string' ? parseIP(ip) : undefined;
  if (parsed === undefined) return ctx.drop(`${f}.ip`, ip, 'is not a valid IP address', 'load-balancer ingress');
  const mode = ing['ipMode'] ?? 'VIP';
  if (typeof mode !== 'string') return ctx.drop(`${f}.ipMode`, mode, 'is not a string', 'load-balancer ingress');
  // "Proxy" load balancers deliver to the nodes themselves: their IPs must not be captured.
  return mode === 'VIP' ? parsed : null;
}

function decodeSessionAffinity(ctx: Ctx, spec: Json): SessionAffinity {
  const type = spec['sessionAffinity'] ?? 'None';
  if (type === 'None') return { type: 'None' };
  if (type !== 'ClientIP') return ctx.fail('spec.sessionAffinity', type, 'is not "None" or "ClientIP"');
  const config = ctx.record('spec.sessionAffinityConfig', spec['sessionAffinityConfig']);
  const clientIP = ctx.record('spec.sessionAffinityConfig.clientIP', config['clientIP']);
  const raw = clientIP['timeoutSeconds'] ?? DEFAULT_CLIENT_IP_TIMEOUT_SECONDS;
  const timeoutSeconds = intField(raw, 1, MAX_CLIENT_IP_TIMEOUT_SECONDS)
    ?? ctx.fail('spec.sessionAffinityConfig.clientIP.timeoutSeconds', raw, `is not an integer in 1..${MAX_CLIENT_IP_TIMEOUT_SECONDS}`);
  return { type: 'ClientIP', timeoutSeconds };
}

function policyIsLocal(ctx: Ctx, spec: Json, field: 'externalTrafficPolicy' | 'internalTrafficPolicy'): boolean {
  const v = spec[field] ?? 'Cluster';
  if (v === 'Local') return true;
  if (v === 'Cluster' || v === '') return false;
  return ctx.fail(`spec.${field}`, v, 'is not "Cluster" or "Local"');
}

/** The balancing annotation: a bad value is logged and ignored (the Service is still proxied). */
function decodeAlgorithm(ctx: Ctx, meta: Json): LoadBalancingAlgorithm | undefined {
  const annotations = meta['annotations'];
  const v = isRecord(annotations) ? annotations[ANNOTATION_LOAD_BALANCING_ALGORITHM] : undefined;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && ALGORITHMS.has(v)) return v as LoadBalancingAlgorithm;
  logInvalid(ctx.logger, ctx.ref, `metadata.annotations[${JSON.stringify(ANNOTATION_LOAD_BALANCING_ALGORITHM)}]`, v,
    `is not one of ${LOAD_BALANCING_ALGORITHMS.join(', ')}`, 'default algorithm used');
  return undefined;
}

function decodeSpec(ctx: Ctx, obj: Json, namespace: string, name: string, meta: Json): DecodedService | undefined {
  const spec = obj['spec'];
  if (!isRecord(spec)) return ctx.fail('spec', spec, 'is not an object');
  const type = spec['type'] ?? 'ClusterIP';
  if (type === 'ExternalName') {
    logIgnored(ctx.logger, ctx.ref, 'type ExternalName');
    return undefined;
  }
  if (typeof type !== 'string' || !SERVICE_TYPES.has(type)) {
    return ctx.fail('spec.type', type, 'is not a supported Service type');
  }
  // upstream ShouldSkipService: clusterIP "None" or empty (headless) is not proxied.
  const clusterIP = spec['clusterIP'] ?? '';
  if (clusterIP === '' || clusterIP === 'None') {
    logIgnored(ctx.logger, ctx.ref, `clusterIP ${showValue(clusterIP)} (headless)`);
    return undefined;
  }
  if (typeof clusterIP !== 'string') return ctx.fail('spec.clusterIP', clusterIP, 'is not a string');
  const clusterIPs = decodeClusterIPs(ctx, spec, clusterIP);
  const ports = decodePorts(ctx, ctx.list('spec.ports', spec['ports']));
  const externalIPs = decodeIPList(ctx, 'spec.externalIPs', ctx.list('spec.externalIPs', spec['externalIPs']), 'external IP');
  // Validation used to allow whitespace padding here; upstream trims. A bad range skips the
  // Service: dropping it would silently open the load balancer wider than asked.
  const sourceRanges = ctx.list('spec.loadBalancerSourceRanges', spec['loadBalancerSourceRanges']).map((v, i) => {
    const parsed = typeof v === 'string' ? parseCIDR(v.trim()) : undefined;
    return parsed ?? ctx.fail(`spec.loadBalancerSourceRanges[${i}]`, v, 'is not a valid CIDR');
  });
  const loadBalancerVIPs = decodeLoadBalancerVIPs(ctx, obj);
  const sessionAffinity = decodeSessionAffinity(ctx, spec);
  const etpLocal = policyIsLocal(ctx, spec, 'externalTrafficPolicy');
  const internalPolicyLocal = policyIsLocal(ctx, spec, 'internalTrafficPolicy');
  const rawHealthCheckNodePort = spec['healthCheckNodePort'] ?? 0;
  const hcnp = intField(rawHealthCheckNodePort, 0, 65535)
    ?? ctx.fail('spec.healthCheckNodePort', rawHealthCheckNodePort, 'is not a valid port');
  const trafficDistribution = spec['trafficDistribution'] ?? undefined;
  if (trafficDistribution !== undefined && typeof trafficDistribution !== 'string') {
    return ctx.fail('spec.trafficDistribution', trafficDistribution, 'is not a string');
  }

  // upstream apiservice.ExternallyAccessible / ExternalPolicyLocal / NeedsHealthCheck.
  const externallyAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && externalIPs.length > 0);
  const externalPolicyLocal = externallyAccessible && etpLocal;
  let healthCheckNodePort = 0;
  if (type === 'LoadBalancer' && externalPolicyLocal) {
    if (hcnp === 0) logInvalid(ctx.logger, ctx.ref, 'spec.healthCheckNodePort', 0, 'is missing for a LoadBalancer with externalTrafficPolicy Local', 'health check skipped');
    healthCheckNodePort = hcnp;
  }
  return Object.freeze({
    namespace, name, key: `${namespace}/${name}`, type: type as ServiceType, clusterIPs, ports, externalIPs, loadBalancerVIPs,
    loadBalancerSourceRanges: sourceRanges, sessionAffinity, externalPolicyLocal, internalPolicyLocal, healthCheckNodePort,
    trafficDistribution, loadBalancingAlgorithm: decodeAlgorithm(ctx, meta),
  });
}

/**
 * Decodes a Service as served by the API. Returns undefined when there is nothing for us to
 * proxy: deliberately ignored (headless, ExternalName, another proxy's label; debug log) or
 * unusable (one warn line naming the field). Throws only on a bug in this module.
 */
export function decodeService(obj: unknown, logger: Logger, opts: DecodeServiceOptions = {}): DecodedService | undefined {
  const ctx = new Ctx(logger, refOf('Service', obj));
  try {
    const meta = decodeMetadata(logger, ctx.ref, obj, true);
    const skip = labelSkipReason(meta.labels, opts.serviceProxyName);
    if (skip !== undefined) {
      logIgnored(logger, ctx.ref, skip);
      return undefined;
    }
    return decodeSpec(ctx, obj as Json, meta.namespace, meta.name, meta.raw);
  } catch (err) {
    if (err instanceof SkipObject) return undefined;
    throw err;
  }
}
