// Shared test helpers: a recording ProxyHandlers, object factories, polling, a fake clock.

import type { KubeObject, ProxyHandlers } from '../../src/sources/handlers.ts';
import type { Clock, Timer } from '../../src/util/clock.ts';
import type { FakeObject } from './fake-apiserver.ts';

export type Kind = 'Service' | 'EndpointSlice' | 'Node';

export interface RecordedEvent {
  readonly kind: Kind;
  readonly type: 'add' | 'update' | 'delete' | 'synced';
  readonly key: string;
  readonly rv: string;
}

function keyOf(o: KubeObject): string {
  return o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`;
}

/**
 * ProxyHandlers keeping the handler-side view (key → object) and flagging protocol violations:
 * duplicate adds, updates/deletes of unknown objects, updates whose `old` is not what was last
 * delivered, updates without a new resourceVersion, synced more than once.
 */
export class RecordingHandlers implements ProxyHandlers {
  readonly events: RecordedEvent[] = [];
  readonly problems: string[] = [];
  readonly state: Record<Kind, Map<string, KubeObject>> = { Service: new Map(), EndpointSlice: new Map(), Node: new Map() };
  readonly syncedCount: Record<Kind, number> = { Service: 0, EndpointSlice: 0, Node: 0 };

  onServiceAdd(o: KubeObject): void { this.add('Service', o); }
  onServiceUpdate(a: KubeObject, b: KubeObject): void { this.update('Service', a, b); }
  onServiceDelete(o: KubeObject): void { this.del('Service', o); }
  onServicesSynced(): void { this.synced('Service'); }
  onEndpointSliceAdd(o: KubeObject): void { this.add('EndpointSlice', o); }
  onEndpointSliceUpdate(a: KubeObject, b: KubeObject): void { this.update('EndpointSlice', a, b); }
  onEndpointSliceDelete(o: KubeObject): void { this.del('EndpointSlice', o); }
  onEndpointSlicesSynced(): void { this.synced('EndpointSlice'); }
  onNodeAdd(o: KubeObject): void { this.add('Node', o); }
  onNodeUpdate(a: KubeObject, b: KubeObject): void { this.update('Node', a, b); }
  onNodeDelete(o: KubeObject): void { this.del('Node', o); }
  onNodesSynced(): void { this.synced('Node'); }

  /** key → resourceVersion, comparable with FakeApiServer.view(). */
  view(kind: Kind): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, o] of this.state[kind]) out[k] = o.metadata.resourceVersion ?? '';
    return out;
  }

  count(kind: Kind, type: RecordedEvent['type'], since = 0): number {
    return this.events.slice(since).filter((e) => e.kind === kind && e.type === type).length;
  }

  private add(kind: Kind, o: KubeObject): void {
    const key = keyOf(o);
    if (this.state[kind].has(key)) this.problems.push(`duplicate add ${kind} ${key}`);
    this.state[kind].set(key, o);
    this.events.push({ kind, type: 'add', key, rv: o.metadata.resourceVersion ?? '' });
  }

  private update(kind: Kind, old: KubeObject, o: KubeObject): void {
    const key = keyOf(o);
    const known = this.state[kind].get(key);
    if (known === undefined) this.problems.push(`update of unknown ${kind} ${key}`);
    // The store keeps identities only (store.ts): old must be the last delivered version.
    else if (keyOf(old) !== key || old.metadata.resourceVersion !== known.metadata.resourceVersion || old.metadata.uid !== known.metadata.uid) {
      this.problems.push(`update of ${kind} ${key}: old is not the last delivered version`);
    }
    if (old.metadata.resourceVersion === o.metadata.resourceVersion) this.problems.push(`update of ${kind} ${key} without a new resourceVersion`);
    this.state[kind].set(key, o);
    this.events.push({ kind, type: 'update', key, rv: o.metadata.resourceVersion ?? '' });
  }

  private del(kind: Kind, o: KubeObject): void {
    const key = keyOf(o);
    if (!this.state[kind].delete(key)) this.problems.push(`delete of unknown ${kind} ${key}`);
    this.events.push({ kind, type: 'delete', key, rv: o.metadata.resourceVersion ?? '' });
  }

  private synced(kind: Kind): void {
    this.syncedCount[kind]++;
    if (this.syncedCount[kind] > 1) this.problems.push(`${kind} synced twice`);
    this.events.push({ kind, type: 'synced', key: '', rv: '' });
  }
}

export function service(namespace: string, name: string, extra: { labels?: Record<string, string>; clusterIP?: string; port?: number } = {}): FakeObject {
  return {
    metadata: { name, namespace, ...(extra.labels === undefined ? {} : { labels: extra.labels }) },
    spec: { clusterIP: extra.clusterIP ?? '10.96.0.10', ports: [{ port: extra.port ?? 80, protocol: 'TCP' }] },
  };
}

export function slice(namespace: string, name: string, serviceName: string, ip = '10.0.0.1', labels: Record<string, string> = {}): FakeObject {
  return {
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName, ...labels } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    ports: [{ port: 8080, protocol: 'TCP' }],
  };
}

export function node(name: string, labels: Record<string, string> = {}): FakeObject {
  return { metadata: { name, labels }, spec: {}, status: {} };
}

/** Polls `cond` until true or the deadline; fails with `what`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Manual time: timers fire only from advance(). */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number { return this.t; }
  monotonic(): number { return this.t; }

  setTimeout(fn: () => void, ms: number): Timer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { cancel: () => { this.timers.delete(id); } };
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order (and timers they schedule, if due). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/** Lets pending promise callbacks run (for code driven by a FakeClock). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}
