// Strict decoding of a KubeProxyConfiguration file (YAML or JSON). Like upstream's strict
// decoder, unknown and duplicate fields and wrongly typed values are errors, each naming its
// field path. YAML is read with 1.1 rules, as upstream's go-yaml does (yes/no/on/off are bools).
// `null` means "unset" everywhere (upstream then applies the default).
//
// Divergence: upstream falls back to a lenient decode (with a logged warning) when strict
// decoding fails. We keep unknown fields an error (typos in a config are worth stopping for),
// except fields upstream removed from v1alpha1 (OBSOLETE_FIELDS), which old kubeadm-generated
// files still carry: those are ignored with a warning.

import { parseAllDocuments } from 'yaml';
import { parseDuration, DurationError } from './duration.ts';
import { invalid, required, typeError, unknownField, unsupported } from './errors.ts';
import { API_VERSION, KIND, type ConfigError, type DeepPartial, type KubeProxyConfigurationInput, type OutputRoutingOptions } from './types.ts';

const OBSOLETE_FIELDS: ReadonlySet<string> = new Set(['udpIdleTimeout', 'resourceContainer', 'conntrack.max']);

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Reads typed fields from one mapping, remembering which keys were consumed. */
class ObjectReader {
  private readonly seen = new Set<string>();
  private readonly obj: Record<string, unknown>;
  private readonly prefix: string;
  private readonly errors: ConfigError[];
  private readonly warnings: string[];

  constructor(obj: Record<string, unknown>, prefix: string, errors: ConfigError[], warnings: string[]) {
    this.obj = obj;
    this.prefix = prefix;
    this.errors = errors;
    this.warnings = warnings;
  }

  path(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}.${key}`;
  }

  private raw(key: string): unknown {
    this.seen.add(key);
    return this.obj[key] ?? undefined;
  }

  private fail(key: string, value: unknown, expected: string): void {
    this.errors.push(typeError(this.path(key), value, expected));
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || typeof v === 'string') return v;
    this.fail(key, v, 'a string');
    return undefined;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined || typeof v === 'boolean') return v;
    this.fail(key, v, 'a boolean');
    return undefined;
  }

  int(key: string, min = INT32_MIN, max = INT32_MAX): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.fail(key, v, 'an integer');
      return undefined;
    }
    if (v < min || v > max) {
      this.fail(key, v, `an integer in [${min}, ${max}]`);
      return undefined;
    }
    return v;
  }

  float(key: string): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.fail(key, v, 'a number');
      return undefined;
    }
    return v;
  }

  duration(key: string, allowNanoseconds = false): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (allowNanoseconds && typeof v === 'number' && Number.isInteger(v)) return v / 1e6;
    if (typeof v !== 'string') {
      this.fail(key, v, 'a duration string (e.g. "30s", "1m0s")');
      return undefined;
    }
    try {
      return parseDuration(v);
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      this.errors.push(invalid(this.path(key), v, e.message));
      return undefined;
    }
  }

  strings(key: string): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.fail(key, v, 'a list of strings');
      return undefined;
    }
    const out: string[] = [];
    v.forEach((item: unknown, i) => {
      if (typeof item === 'string') out.push(item);
      else this.errors.push(typeError(`${this.path(key)}[${i}]`, item, 'a string'));
    });
    return out;
  }

  boolMap(key: string): Record<string, boolean> | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!isRecord(v)) {
      this.fail(key, v, 'a map of names to booleans');
      return undefined;
    }
    const out: Record<string, boolean> = {};
    for (const [k, b] of Object.entries(v)) {
      if (k === '__proto__') this.errors.push(invalid(`${this.path(key)}.${k}`, k, 'not a feature name'));
      else if (typeof b === 'boolean') out[k] = b;
      else this.errors.push(typeError(`${this.path(key)}.${k}`, b, 'a boolean'));
    }
    return out;
  }

  /** Quantity-like value: a string, or a number kept as its text. */
  quantity(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    this.fail(key, v, 'a quantity');
    return undefined;
  }

  object<T>(key: string, read: (r: ObjectReader) => T): T | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!isRecord(v)) {
      this.fail(key, v, 'an object');
      return undefined;
    }
    const r = new ObjectReader(v, this.path(key), this.errors, this.warnings);
    const out = read(r);
    r.finish();
    return out;
  }

  list<T>(key: string, read: (r: ObjectReader) => T): T[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.fail(key, v, 'a list');
      return undefined;
    }
    const out: T[] = [];
    v.forEach((item: unknown, i) => {
      const p = `${this.path(key)}[${i}]`;
      if (!isRecord(item)) {
        this.errors.push(typeError(p, item, 'an object'));
        return;
      }
      const r = new ObjectReader(item, p, this.errors, this.warnings);
      out.push(read(r));
      r.finish();
    });
    return out;
  }

  /** Reports every key that was not read as an unknown field. */
  finish(): void {
    for (const key of Object.keys(this.obj)) {
      if (this.seen.has(key)) continue;
      const p = this.path(key);
      if (OBSOLETE_FIELDS.has(p)) this.warnings.push(`ignoring obsolete field ${JSON.stringify(p)} in the configuration file`);
      else this.errors.push(unknownField(p));
    }
  }
}

function readRouting(r: ObjectReader): DeepPartial<OutputRoutingOptions> {
  return { splitStream: r.bool('splitStream'), infoBufferSize: r.quantity('infoBufferSize') };
}

function readLogging(r: ObjectReader): KubeProxyConfigurationInput['logging'] {
  const logging: NonNullable<KubeProxyConfigurationInput['logging']> = {
    format: r.string('format'),
    flushFrequency: r.duration('flushFrequency', true),
    verbosity: r.int('verbosity', 0, 2 ** 32 - 1),
    vmodule: r.list('vmodule', (v) => ({ filePattern: v.string('filePattern') ?? '', verbosity: v.int('verbosity', 0, 2 ** 32 - 1) ?? 0 })),
    options: r.object('options', (o) => ({
      text: o.object('text', readRouting),
      json: o.object('json', readRouting),
    })),
  };
  return logging;
}

function readConfiguration(r: ObjectReader): KubeProxyConfigurationInput {
  return {
    featureGates: r.boolMap('featureGates'),
    clientConnection: r.object('clientConnection', (c) => ({
      kubeconfig: c.string('kubeconfig'),
      acceptContentTypes: c.string('acceptContentTypes'),
      contentType: c.string('contentType'),
      qps: c.float('qps'),
      burst: c.int('burst'),
    })),
    logging: r.object('logging', readLogging),
    hostnameOverride: r.string('hostnameOverride'),
    bindAddress: r.string('bindAddress'),
    healthzBindAddress: r.string('healthzBindAddress'),
    metricsBindAddress: r.string('metricsBindAddress'),
    bindAddressHardFail: r.bool('bindAddressHardFail'),
    enableProfiling: r.bool('enableProfiling'),
    showHiddenMetricsForVersion: r.string('showHiddenMetricsForVersion'),
    mode: r.string('mode'),
    iptables: r.object('iptables', (s) => ({
      masqueradeBit: s.int('masqueradeBit'),
      masqueradeAll: s.bool('masqueradeAll'),
      localhostNodePorts: s.bool('localhostNodePorts'),
      snatNodeInternalIP: s.bool('snatNodeInternalIP'),
      syncPeriod: s.duration('syncPeriod'),
      minSyncPeriod: s.duration('minSyncPeriod'),
    })),
    ipvs: r.object('ipvs', (s) => ({
      syncPeriod: s.duration('syncPeriod'),
      minSyncPeriod: s.duration('minSyncPeriod'),
      scheduler: s.string('scheduler'),
      excludeCIDRs: s.strings('excludeCIDRs'),
      strictARP: s.bool('strictARP'),
      tcpTimeout: s.duration('tcpTimeout'),
      tcpFinTimeout: s.duration('tcpFinTimeout'),
      udpTimeout: s.duration('udpTimeout'),
    })),
    nftables: r.object('nftables', (s) => ({
      masqueradeBit: s.int('masqueradeBit'),
      masqueradeAll: s.bool('masqueradeAll'),
      syncPeriod: s.duration('syncPeriod'),
      minSyncPeriod: s.duration('minSyncPeriod'),
    })),
    winkernel: r.object('winkernel', (s) => ({
      networkName: s.string('networkName'),
      sourceVip: s.string('sourceVip'),
      enableDSR: s.bool('enableDSR'),
      rootHnsEndpointName: s.string('rootHnsEndpointName'),
      forwardHealthCheckVip: s.bool('forwardHealthCheckVip'),
    })),
    detectLocalMode: r.string('detectLocalMode'),
    detectLocal: r.object('detectLocal', (s) => ({
      bridgeInterface: s.string('bridgeInterface'),
      interfaceNamePrefix: s.string('interfaceNamePrefix'),
    })),
    clusterCIDR: r.string('clusterCIDR'),
    nodePortAddresses: r.strings('nodePortAddresses'),
    oomScoreAdj: r.int('oomScoreAdj'),
    conntrack: r.object('conntrack', (s) => ({
      maxPerCore: s.int('maxPerCore'),
      min: s.int('min'),
      tcpEstablishedTimeout: s.duration('tcpEstablishedTimeout'),
      tcpCloseWaitTimeout: s.duration('tcpCloseWaitTimeout'),
      tcpBeLiberal: s.bool('tcpBeLiberal'),
      udpTimeout: s.duration('udpTimeout'),
      udpStreamTimeout: s.duration('udpStreamTimeout'),
    })),
    configSyncPeriod: r.duration('configSyncPeriod'),
    portRange: r.string('portRange'),
    windowsRunAsService: r.bool('windowsRunAsService'),
    userspace: r.object('userspace', (s) => ({ algorithm: s.string('algorithm'), threads: s.int('threads') })),
  };
}

export interface DecodeResult {
  readonly input: KubeProxyConfigurationInput;
  readonly errors: ConfigError[];
  readonly warnings: string[];
}

/** Decode the text of a configuration file. `source` names the file in messages. */
export function decodeConfiguration(text: string, source: string): DecodeResult {
  const errors: ConfigError[] = [];
  const warnings: string[] = [];
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  const parsed = Array.isArray(docs) ? docs : [];
  const withContent = parsed.filter((d) => d.contents !== null);
  for (const d of parsed) {
    for (const e of d.errors) errors.push({ field: source, message: `${source}: ${e.message}` });
  }
  if (errors.length > 0) return { input: {}, errors, warnings };
  if (withContent.length !== 1) {
    const what = withContent.length === 0 ? 'is empty' : `holds ${withContent.length} YAML documents; expected one`;
    return { input: {}, errors: [{ field: source, message: `${source}: ${what} (want a ${KIND})` }], warnings };
  }
  const root: unknown = withContent[0]?.toJS({ maxAliasCount: 100 });
  if (!isRecord(root)) {
    return { input: {}, errors: [typeError(source, root, `a ${KIND} object`)], warnings };
  }
  const r = new ObjectReader(root, '', errors, warnings);
  const apiVersion = r.string('apiVersion');
  const kind = r.string('kind');
  if (apiVersion === undefined || apiVersion === '') errors.push(required('apiVersion', `must be ${JSON.stringify(API_VERSION)}`));
  else if (apiVersion !== API_VERSION) errors.push(unsupported('apiVersion', apiVersion, [API_VERSION]));
  if (kind === undefined || kind === '') errors.push(required('kind', `must be ${JSON.stringify(KIND)}`));
  else if (kind !== KIND) errors.push(unsupported('kind', kind, [KIND]));
  const input = readConfiguration(r);
  r.finish();
  return { input, errors, warnings };
}
