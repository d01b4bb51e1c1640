// Per-family EndpointSlice change tracking (upstream endpointschangetracker.go): feeds the
// slice cache, remembers last-change-trigger-times for the network-programming-duration
// metric, and on `apply()` folds the changes into the applied endpoints, reporting which
// Services changed and the conntrack hints a dataplane needs.

import type { DecodedEndpointSlice } from './decode/endpointslice.ts';
import { EndpointSliceCache, type EndpointsChange } from './endpointslice-cache.ts';
import { PersistentMap } from './persistent-map.ts';
import { needsConntrackCleanup } from './service-port.ts';
import type { Endpoint, IPFamily, ServiceKey, ServicePortName, StaleEndpoint } from './types.ts';

export interface EndpointsApplyResult {
  /** Services whose endpoints changed (upstream UpdatedServices). */
  readonly updatedServices: ReadonlySet<ServiceKey>;
  /** UDP/SCTP endpoints that were serving and no longer are (removed or not serving). */
  readonly deletedUDPEndpoints: readonly StaleEndpoint[];
  /** UDP/SCTP service ports that went from 0 to >0 serving endpoints. */
  readonly newlyActiveUDPServices: readonly ServicePortName[];
  /** last-change-trigger-times (ms) per Service since the previous apply. */
  readonly lastChangeTriggerTimes: ReadonlyMap<ServiceKey, readonly number[]>;
  /** All applied endpoints per service port key: an immutable version, safe to hand out. */
  readonly endpoints: PersistentMap<readonly Endpoint[]>;
}

function servingCount(endpoints: readonly Endpoint[] | undefined): number {
  let n = 0;
  for (const ep of endpoints ?? []) if (ep.serving) n++;
  return n;
}

/**
 * Conntrack hints for one Service's change (upstream detectStaleConntrackEntries, in the form
 * its current conntrack reconciler implies): an endpoint that was serving is stale unless it
 * is still there *and serving*; a service port is newly active when it had no serving
 * endpoint and now has one (traffic to it was being rejected and may be cached as such).
 */
export function detectStaleConntrackEntries(change: EndpointsChange, deleted: StaleEndpoint[], newlyActive: ServicePortName[]): void {
  for (const [key, prev] of change.previous) {
    if (!needsConntrackCleanup(prev.name.protocol)) continue;
    const now = change.current.get(key)?.endpoints ?? [];
    for (const ep of prev.endpoints) {
      if (!ep.serving) continue;
      if (!now.some((e) => e.key === ep.key && e.serving)) deleted.push(Object.freeze({ servicePort: prev.name, endpoint: ep }));
    }
  }
  for (const [key, cur] of change.current) {
    if (!needsConntrackCleanup(cur.name.protocol)) continue;
    if (servingCount(cur.endpoints) > 0 && servingCount(change.previous.get(key)?.endpoints) === 0) newlyActive.push(cur.name);
  }
}

export class EndpointsChangeTracker {
  readonly family: IPFamily;
  readonly #cache: EndpointSliceCache;
  /** Trigger times older than this are from before we started and are not measured. */
  readonly #startTime: number;
  #triggerTimes = new Map<ServiceKey, number[]>();
  #pendingEvents = 0;
  #endpoints = PersistentMap.empty<readonly Endpoint[]>();

  constructor(family: IPFamily, nodeName: string, startTime: number) {
    this.family = family;
    this.#cache = new EndpointSliceCache(family, nodeName);
    this.#startTime = startTime;
  }

  /** A slice was added or updated. Slices of the other family are ignored (false). */
  update(slice: DecodedEndpointSlice): boolean {
    if (slice.family !== this.family) return false;
    const changed = this.#cache.updatePending(slice);
    if (changed) {
      this.#pendingEvents++;
      const t = slice.triggerTime;
      if (t !== undefined && t > this.#startTime) {
        const times = this.#triggerTimes.get(slice.serviceKey);
        if (times === undefined) this.#triggerTimes.set(slice.serviceKey, [t]);
        else times.push(t);
      }
    }
    return changed;
  }

  /** Slice namespace/name was deleted (or became unusable); false if we did not have it. */
  remove(namespace: string, name: string): boolean {
    const serviceKey = this.#cache.serviceOf(namespace, name);
    const changed = this.#cache.removePending(namespace, name);
    if (changed) {
      this.#pendingEvents++;
      // A deletion's annotation is from the last update, not this change: not measured.
      if (serviceKey !== undefined) this.#triggerTimes.delete(serviceKey);
    }
    return changed;
  }

  /** Change events since the last apply (upstream sync_proxy_rules_endpoint_changes_pending). */
  get pendingCount(): number {
    return this.#pendingEvents;
  }

  get pendingServiceCount(): number {
    return this.#cache.pendingServiceCount;
  }

  get sliceCount(): number {
    return this.#cache.sliceCount;
  }

  /** The applied endpoints (the latest `apply()` result). */
  get endpoints(): PersistentMap<readonly Endpoint[]> {
    return this.#endpoints;
  }

  /** Exposed for tests that check the cache directly. */
  get cache(): EndpointSliceCache {
    return this.#cache;
  }

  apply(): EndpointsApplyResult {
    const changes = this.#cache.checkoutChanges();
    const updatedServices = new Set<ServiceKey>();
    const deletedUDPEndpoints: StaleEndpoint[] = [];
    const newlyActiveUDPServices: ServicePortName[] = [];
    if (changes.size > 0) {
      const b = this.#endpoints.builder();
      for (const [service, change] of changes) {
        updatedServices.add(service);
        for (const key of change.previous.keys()) if (!change.current.has(key)) b.delete(key);
        for (const [key, pe] of change.current) if (change.previous.get(key) !== pe) b.set(key, pe.endpoints);
        detectStaleConntrackEntries(change, deletedUDPEndpoints, newlyActiveUDPServices);
      }
      this.#endpoints = b.build();
    }
    const lastChangeTriggerTimes = this.#triggerTimes;
    this.#triggerTimes = new Map();
    this.#pendingEvents = 0;
    return { updatedServices, deletedUDPEndpoints, newlyActiveUDPServices, lastChangeTriggerTimes, endpoints: this.#endpoints };
  }
}

/**
 * Per Service, the number of distinct IPs of local Ready endpoints (upstream
 * EndpointsMap.LocalReadyEndpoints): what a health check node port reports. Terminating
 * endpoints do not count, so a node with only terminating endpoints fails its health check.
 * O(all endpoints): callers should compute it for changed Services only where they can.
 */
export function localReadyEndpoints(endpoints: Iterable<readonly [string, readonly Endpoint[]]>): Map<ServiceKey, number> {
  const ips = new Map<ServiceKey, Set<string>>();
  for (const [portKey, list] of endpoints) {
    // ServicePortName.key is "ns/name:port/PROTO"; namespaces and names cannot contain ':'.
    const service = portKey.slice(0, portKey.indexOf(':'));
    for (const ep of list) {
      if (!ep.ready || !ep.isLocal) continue;
      let set = ips.get(service);
      if (set === undefined) ips.set(service, (set = new Set()));
      set.add(ep.ip);
    }
  }
  return new Map([...ips].map(([k, v]) => [k, v.size]));
}
