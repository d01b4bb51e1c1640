// The EndpointSlice cache of one IP family (upstream endpointslicecache.go): slices grouped by
// Service and slice name, as applied by the last sync plus pending changes since. Keeping
// slices apart (rather than merged endpoints) is what lets an endpoint move between slices
// without flapping: it disappears only when no slice of the Service lists it.

import type { DecodedEndpoint, DecodedEndpointSlice } from './decode/endpointslice.ts';
import { joinHostPort } from './ip.ts';
import { makeServicePortName } from './service-port.ts';
import type { Endpoint, IPFamily, ServiceKey, ServicePortName } from './types.ts';

/** All endpoints of one service port, sorted by key ("ip:port"), as upstream sorts them. */
export interface PortEndpoints {
  readonly name: ServicePortName;
  readonly endpoints: readonly Endpoint[];
}

/** One Service's endpoints, keyed by ServicePortName.key; ports without endpoints are absent. */
export type EndpointsMap = ReadonlyMap<string, PortEndpoints>;

export interface EndpointsChange {
  readonly previous: EndpointsMap;
  readonly current: EndpointsMap;
}

const EMPTY_MAP: EndpointsMap = new Map();

/**
 * A slice as the cache keeps it: its endpoints already made Endpoints of its first port (the
 * only port of almost every slice), so each endpoint is one object for as long as the slice
 * lives, not a decoded one plus an Endpoint (≈ 9 MiB at 100k endpoints). Other ports derive
 * theirs from these.
 */
interface CachedSlice extends Omit<DecodedEndpointSlice, 'endpoints'> {
  readonly endpoints: readonly Endpoint[];
}

interface SliceTracker {
  /** Slices as of the last checkout, by slice name. */
  readonly applied: Map<string, CachedSlice>;
  /** Changes since: a slice, or null for a removal (created when needed: most trackers have none). */
  pending: Map<string, CachedSlice | null> | undefined;
}

function sameStringSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const v of a) if (!b.has(v)) return false;
  return true;
}

/**
 * Whether two versions of a slice mean the same to the proxy. Order-sensitive like upstream's
 * DeepEqual (a reordered slice counts as a change; the recomputed endpoints then compare
 * equal and no Service is reported). Ignores metadata such as resourceVersion.
 */
function sameSliceContent(a: CachedSlice | undefined, b: CachedSlice | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.serviceKey === b.serviceKey && a.family === b.family
    && a.ports.length === b.ports.length
    && a.ports.every((p, i) => { const q = b.ports[i]; return q !== undefined && p.name === q.name && p.port === q.port && p.protocol === q.protocol; })
    && sameEndpoints(a.endpoints, b.endpoints);
}

export function endpointEqual(a: Endpoint, b: Endpoint): boolean {
  return a === b || (a.key === b.key && a.isLocal === b.isLocal && a.ready === b.ready && a.serving === b.serving
    && a.terminating === b.terminating && a.nodeName === b.nodeName && a.zone === b.zone
    && sameStringSet(a.zoneHints, b.zoneHints) && sameStringSet(a.nodeHints, b.nodeHints));
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a === b || (a.length === b.length && a.every((e, i) => { const f = b[i]; return f !== undefined && endpointEqual(e, f); }));
}

/**
 * Returns `current` with every port whose endpoints equal `previous`'s replaced by the
 * previous object (so unchanged data keeps its identity), and whether anything differs.
 */
export function stabilize(previous: EndpointsMap, current: EndpointsMap): { map: EndpointsMap; changed: boolean } {
  let changed = previous.size !== current.size;
  const out = new Map<string, PortEndpoints>();
  for (const [key, pe] of current) {
    const old = previous.get(key);
    if (old !== undefined && sameEndpoints(old.endpoints, pe.endpoints)) out.set(key, old);
    else {
      out.set(key, pe);
      changed = true;
    }
  }
  return { map: out, changed };
}

export class EndpointSliceCache {
  readonly family: IPFamily;
  readonly nodeName: string;
  readonly #trackers = new Map<ServiceKey, SliceTracker>();
  /** Where each slice ("ns/name") currently belongs, pending changes included. */
  readonly #sliceService = new Map<string, ServiceKey>();
  /** Services with pending changes. */
  readonly #dirty = new Set<ServiceKey>();
  /** Endpoints computed from the applied slices, per Service. */
  readonly #appliedEndpoints = new Map<ServiceKey, EndpointsMap>();

  constructor(family: IPFamily, nodeName: string) {
    this.family = family;
    this.nodeName = nodeName;
  }

  /** Records a new version of a slice; true if it changes what the next checkout computes. */
  updatePending(decoded: DecodedEndpointSlice): boolean {
    const slice = this.#cached(decoded);
    const id = `${slice.namespace}/${slice.name}`;
    const oldService = this.#sliceService.get(id);
    let changed = false;
    // The service-name label changed: the slice leaves its old Service.
    if (oldService !== undefined && oldService !== slice.serviceKey) changed = this.#setPending(oldService, slice.name, null);
    this.#sliceService.set(id, slice.serviceKey);
    return this.#setPending(slice.serviceKey, slice.name, slice) || changed;
  }

  /** The Service slice namespace/name belongs to (pending changes included). */
  serviceOf(namespace: string, name: string): ServiceKey | undefined {
    return this.#sliceService.get(`${namespace}/${name}`);
  }

  /** Records the removal of slice namespace/name; false if we never had it. */
  removePending(namespace: string, name: string): boolean {
    const id = `${namespace}/${name}`;
    const service = this.#sliceService.get(id);
    if (service === undefined) return false;
    this.#sliceService.delete(id);
    return this.#setPending(service, name, null);
  }

  #setPending(service: ServiceKey, name: string, value: CachedSlice | null): boolean {
    let tracker = this.#trackers.get(service);
    if (tracker === undefined) {
      tracker = { applied: new Map(), pending: undefined };
      this.#trackers.set(service, tracker);
    }
    const applied = tracker.applied.get(name);
    const before = tracker.pending?.has(name) === true ? (tracker.pending.get(name) ?? undefined) : applied;
    const after = value ?? undefined;
    let changed = false;
    if (!sameSliceContent(before, after)) {
      changed = true;
      if (sameSliceContent(applied, after)) tracker.pending?.delete(name);
      else (tracker.pending ??= new Map()).set(name, value);
    }
    if (tracker.pending?.size === 0) tracker.pending = undefined;
    if (tracker.pending !== undefined) this.#dirty.add(service);
    else this.#dirty.delete(service);
    if (tracker.applied.size === 0 && tracker.pending === undefined) this.#trackers.delete(service);
    return changed;
  }

  get hasPending(): boolean {
    return this.#dirty.size > 0;
  }

  get pendingServiceCount(): number {
    return this.#dirty.size;
  }

  get sliceCount(): number {
    return this.#sliceService.size;
  }

  /** Applied endpoints of one Service. */
  appliedEndpoints(service: ServiceKey): EndpointsMap {
    return this.#appliedEndpoints.get(service) ?? EMPTY_MAP;
  }

  /**
   * Marks pending changes applied and returns, per Service whose endpoints really changed,
   * (previous, current). O(size of the changed Services).
   */
  checkoutChanges(): Map<ServiceKey, EndpointsChange> {
    const changes = new Map<ServiceKey, EndpointsChange>();
    for (const service of this.#dirty) {
      const tracker = this.#trackers.get(service);
      if (tracker === undefined) continue;
      for (const [name, slice] of tracker.pending ?? []) {
        if (slice === null) tracker.applied.delete(name);
        else tracker.applied.set(name, slice);
      }
      tracker.pending = undefined;
      const previous = this.#appliedEndpoints.get(service) ?? EMPTY_MAP;
      const { map: current, changed } = stabilize(previous, this.endpointsMap(tracker.applied.values()));
      if (tracker.applied.size === 0) this.#trackers.delete(service);
      if (current.size === 0) this.#appliedEndpoints.delete(service);
      else this.#appliedEndpoints.set(service, current);
      if (changed) changes.set(service, { previous, current });
    }
    this.#dirty.clear();
    return changes;
  }

  /**
   * Merges slices of one Service into endpoints per service port (upstream
   * endpointInfoByServicePort + addEndpoints). Target ports are resolved per slice by port
   * name. An endpoint listed twice (same ip:port, e.g. while moving between slices, or an IP
   * reused by a new pod before the old one is gone) keeps the non-terminating copy; among
   * equals the later slice (by name) wins.
   */
  endpointsMap(slices: Iterable<CachedSlice>): EndpointsMap {
    const sorted = [...slices].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const byPort = new Map<string, { name: ServicePortName; set: Map<string, Endpoint> }>();
    for (const slice of sorted) {
      for (const port of slice.ports) {
        const spn = makeServicePortName(slice.namespace, slice.serviceName, port.name, port.protocol);
        let entry = byPort.get(spn.key);
        if (entry === undefined) {
          entry = { name: spn, set: new Map() };
          byPort.set(spn.key, entry);
        }
        for (const ep of slice.endpoints) {
          const e = ep.port === port.port ? ep : this.#onPort(ep, port.port);
          if (!entry.set.has(e.key) || !e.terminating) entry.set.set(e.key, e);
        }
      }
    }
    const out = new Map<string, PortEndpoints>();
    for (const [key, { name, set }] of byPort) {
      if (set.size === 0) continue;
      const endpoints = [...set.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      out.set(key, Object.freeze({ name, endpoints: Object.freeze(endpoints) }));
    }
    return out;
  }

  /** The slice as kept: endpoints made Endpoints of its first port. */
  #cached(slice: DecodedEndpointSlice): CachedSlice {
    const port = slice.ports[0]?.port ?? 0;
    return { ...slice, endpoints: slice.endpoints.map((ep) => this.#makeEndpoint(ep, port)) };
  }

  #makeEndpoint(ep: DecodedEndpoint, port: number): Endpoint {
    return Object.freeze({
      ip: ep.ip, port, key: joinHostPort(ep.ip, port),
      isLocal: this.nodeName !== '' && ep.nodeName === this.nodeName,
      ready: ep.ready, serving: ep.serving, terminating: ep.terminating,
      zoneHints: ep.zoneHints, nodeHints: ep.nodeHints, nodeName: ep.nodeName, zone: ep.zone,
    });
  }

  #onPort(ep: Endpoint, port: number): Endpoint {
    return Object.freeze({ ...ep, port, key: joinHostPort(ep.ip, port) });
  }
}
