// ProxyState: the node-local model behind the source handlers. Sources call the handlers with
// raw API objects; ProxyState decodes them, records changes in per-family trackers and, when
// the sync loop asks, hands out one immutable FamilySnapshot per IP family.
//
// Snapshots share structure: `services` and `endpoints` are PersistentMaps (HAMTs, see
// ./persistent-map.ts), so taking a snapshot costs O(changes since the last one), never
// O(cluster size), and a snapshot already handed out can never change under its reader.

import type { ProxyHandlers, KubeObject } from '../sources/handlers.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { decodeEndpointSlice } from './decode/endpointslice.ts';
import { decodeNode } from './decode/node.ts';
import { decodeService, type DecodedService } from './decode/service.ts';
import { decodeServiceCIDR } from './decode/service-cidr.ts';
import { isRecord } from './decode/common.ts';
import { EndpointsChangeTracker } from './endpoints-change-tracker.ts';
import { ServiceChangeTracker } from './service-change-tracker.ts';
import { LABEL_TOPOLOGY_ZONE } from './topology.ts';
import type { FamilySnapshot, IPFamily, NodeInfo, ServiceKey } from './types.ts';

export interface ProxyStateOptions {
  /** Our node: decides Endpoint.isLocal and which Node object is ours. */
  readonly nodeName: string;
  /** Families this node proxies; one snapshot each. */
  readonly families: readonly IPFamily[];
  readonly logger: Logger;
  /** service.kubernetes.io/service-proxy-name value that we own (default: none). */
  readonly serviceProxyName?: string | undefined;
  /** Called whenever an event made a sync necessary (not for no-op updates). */
  readonly onChange?: (() => void) | undefined;
  /** For last-change-trigger-time filtering; defaults to the system clock. */
  readonly clock?: Clock | undefined;
  /** Called on every event about our own Node (undefined: deleted), e.g. for health checks. */
  readonly onNodeChange?: ((node: NodeInfo | undefined) => void) | undefined;
}

export interface Snapshots {
  /** One per configured family, in the configured order. */
  readonly families: FamilySnapshot[];
  /** Our node's topology labels changed since the previous snapshot: resync everything. */
  readonly topologyChanged: boolean;
  /** last-change-trigger-times (ms since the epoch) of the changes in these snapshots. */
  readonly changeTriggerTimes: number[];
}

/** Node labels that affect endpoint selection (upstream NodeTopologyConfig: the zone only). */
export const TOPOLOGY_LABELS: readonly string[] = [LABEL_TOPOLOGY_ZONE];

interface FamilyState {
  readonly family: IPFamily;
  readonly services: ServiceChangeTracker;
  readonly endpoints: EndpointsChangeTracker;
}

function objectKey(obj: unknown): { namespace: string; name: string } | undefined {
  const meta = isRecord(obj) ? obj['metadata'] : undefined;
  if (!isRecord(meta)) return undefined;
  const { name, namespace } = meta;
  return typeof name === 'string' && name !== '' && typeof namespace === 'string' && namespace !== '' ? { namespace, name } : undefined;
}

function topologyOf(node: NodeInfo | undefined, previous: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  const labels = new Map<string, string>();
  for (const l of TOPOLOGY_LABELS) {
    const v = node?.labels.get(l);
    if (v !== undefined) labels.set(l, v);
  }
  const same = labels.size === previous.size && [...labels].every(([k, v]) => previous.get(k) === v);
  return same ? previous : labels;
}

export class ProxyState implements ProxyHandlers {
  readonly #nodeName: string;
  readonly #logger: Logger;
  readonly #serviceProxyName: string | undefined;
  readonly #onChange: (() => void) | undefined;
  readonly #onNodeChange: ((node: NodeInfo | undefined) => void) | undefined;
  readonly #families: FamilyState[];
  /** Latest decoded version of every proxied Service (any family). */
  readonly #services = new Map<ServiceKey, DecodedService>();
  #servicesSynced = false;
  #slicesSynced = false;
  #node: NodeInfo | undefined;
  /** ServiceCIDR objects by name → their CIDRs; undefined until their initial list (or never: not watched). */
  #serviceCIDRs: Map<string, readonly { readonly cidr: string; readonly family: IPFamily }[]> | undefined;
  #serviceCIDRsSynced = false;
  /** Per family, as handed out in snapshots (sorted, distinct); undefined while not synced. */
  #cidrsByFamily: ReadonlyMap<IPFamily, readonly string[]> | undefined;
  /** Topology labels as of the latest node event, and as handed out in the last snapshot. */
  #topology: ReadonlyMap<string, string> = new Map();
  #snapshotTopology: ReadonlyMap<string, string> = this.#topology;

  constructor(opts: ProxyStateOptions) {
    this.#nodeName = opts.nodeName;
    this.#logger = opts.logger;
    this.#serviceProxyName = opts.serviceProxyName;
    this.#onChange = opts.onChange;
    this.#onNodeChange = opts.onNodeChange;
    const start = (opts.clock ?? systemClock).now();
    this.#families = [...new Set(opts.families)].map((family) => ({
      family,
      services: new ServiceChangeTracker(family),
      endpoints: new EndpointsChangeTracker(family, opts.nodeName, start),
    }));
  }

  // ---- handlers: each catches everything, a bad object must never stop the source ----

  #guard(what: string, fn: () => boolean): void {
    let changed = false;
    try {
      changed = fn();
    } catch (err) {
      this.#logger.error({ err, handler: what }, `ProxyState.${what} failed; event ignored`);
    }
    if (changed) this.#notify();
  }

  #notify(): void {
    try {
      this.#onChange?.();
    } catch (err) {
      this.#logger.error({ err }, 'ProxyState onChange callback failed');
    }
  }

  onServiceAdd(service: KubeObject): void {
    this.#guard('onServiceAdd', () => this.#serviceEvent(service, undefined));
  }

  onServiceUpdate(oldService: KubeObject, service: KubeObject): void {
    this.#guard('onServiceUpdate', () => this.#serviceEvent(service, oldService));
  }

  onServiceDelete(service: KubeObject): void {
    this.#guard('onServiceDelete', () => {
      const id = objectKey(service);
      return id !== undefined && this.#setService(`${id.namespace}/${id.name}`, undefined);
    });
  }

  onServicesSynced(): void {
    this.#guard('onServicesSynced', () => this.#markSynced('services'));
  }

  #serviceEvent(obj: KubeObject, old: KubeObject | undefined): boolean {
    const id = objectKey(obj) ?? objectKey(old);
    const decoded = decodeService(obj, this.#logger, { serviceProxyName: this.#serviceProxyName });
    if (id === undefined) return false; // logged by the decoder
    // An update that cannot be used removes the Service: better no rules than stale ones.
    return this.#setService(`${id.namespace}/${id.name}`, decoded);
  }

  #setService(key: ServiceKey, svc: DecodedService | undefined): boolean {
    if (svc === undefined) this.#services.delete(key);
    else this.#services.set(key, svc);
    let changed = false;
    for (const f of this.#families) changed = f.services.update(key, svc) || changed;
    return changed;
  }

  onEndpointSliceAdd(slice: KubeObject): void {
    this.#guard('onEndpointSliceAdd', () => this.#sliceEvent(slice, undefined));
  }

  onEndpointSliceUpdate(oldSlice: KubeObject, slice: KubeObject): void {
    this.#guard('onEndpointSliceUpdate', () => this.#sliceEvent(slice, oldSlice));
  }

  onEndpointSliceDelete(slice: KubeObject): void {
    this.#guard('onEndpointSliceDelete', () => {
      const id = objectKey(slice);
      if (id === undefined) return false;
      let changed = false;
      for (const f of this.#families) changed = f.endpoints.remove(id.namespace, id.name) || changed;
      return changed;
    });
  }

  onEndpointSlicesSynced(): void {
    this.#guard('onEndpointSlicesSynced', () => this.#markSynced('slices'));
  }

  #sliceEvent(obj: KubeObject, old: KubeObject | undefined): boolean {
    const id = objectKey(obj) ?? objectKey(old);
    const decoded = decodeEndpointSlice(obj, this.#logger, { serviceProxyName: this.#serviceProxyName });
    if (id === undefined) return false;
    let changed = false;
    for (const f of this.#families) {
      // Not ours (other family, FQDN, unusable, relabelled): make sure it is gone.
      const c = decoded?.family === f.family ? f.endpoints.update(decoded) : f.endpoints.remove(id.namespace, id.name);
      changed = c || changed;
    }
    return changed;
  }

  onNodeAdd(node: KubeObject): void {
    this.#guard('onNodeAdd', () => this.#nodeEvent(node));
  }

  onNodeUpdate(_oldNode: KubeObject, node: KubeObject): void {
    this.#guard('onNodeUpdate', () => this.#nodeEvent(node));
  }

  onNodeDelete(node: KubeObject): void {
    this.#guard('onNodeDelete', () => {
      if (node.metadata.name !== this.#nodeName) return false;
      // Topology labels are kept, as upstream's NodeTopologyConfig ignores deletions; the
      // health check sees the Node gone through node().
      this.#node = undefined;
      this.#onNodeChange?.(undefined);
      return false;
    });
  }

  onNodesSynced(): void {
    // Nothing waits for Nodes: a missing Node only affects health and topology.
  }

  onServiceCIDRAdd(cidr: KubeObject): void {
    this.#guard('onServiceCIDRAdd', () => this.#serviceCIDREvent(cidr, false));
  }

  onServiceCIDRUpdate(_old: KubeObject, cidr: KubeObject): void {
    this.#guard('onServiceCIDRUpdate', () => this.#serviceCIDREvent(cidr, false));
  }

  onServiceCIDRDelete(cidr: KubeObject): void {
    this.#guard('onServiceCIDRDelete', () => this.#serviceCIDREvent(cidr, true));
  }

  /** The initial list of ServiceCIDRs is in: from now on snapshots carry them (nothing waits for it). */
  onServiceCIDRsSynced(): void {
    this.#guard('onServiceCIDRsSynced', () => {
      this.#serviceCIDRsSynced = true;
      return this.#recomputeCIDRs();
    });
  }

  #serviceCIDREvent(obj: KubeObject, deleted: boolean): boolean {
    const objects = (this.#serviceCIDRs ??= new Map());
    if (deleted) objects.delete(obj.metadata.name);
    else objects.set(obj.metadata.name, decodeServiceCIDR(obj, this.#logger).cidrs);
    return this.#serviceCIDRsSynced && this.#recomputeCIDRs();
  }

  /** Union of every object's CIDRs per family; true when it changed. */
  #recomputeCIDRs(): boolean {
    const byFamily = new Map<IPFamily, string[]>(this.#families.map((f) => [f.family, []]));
    for (const cidrs of this.#serviceCIDRs?.values() ?? []) for (const c of cidrs) byFamily.get(c.family)?.push(c.cidr);
    const next = new Map([...byFamily].map(([family, list]) => [family, [...new Set(list)].sort()]));
    const prev = this.#cidrsByFamily;
    if (prev !== undefined && [...next].every(([family, list]) => prev.get(family)?.join(',') === list.join(','))) return false;
    this.#cidrsByFamily = next;
    return true;
  }

  #nodeEvent(obj: KubeObject): boolean {
    if (obj.metadata.name !== this.#nodeName) return false;
    const node = decodeNode(obj, this.#logger);
    if (node === undefined) return false; // keep what we knew; the decoder logged why
    this.#node = node;
    this.#onNodeChange?.(node);
    const topology = topologyOf(node, this.#topology);
    if (topology === this.#topology) return false;
    this.#topology = topology;
    return true;
  }

  #markSynced(which: 'services' | 'slices'): boolean {
    const before = this.synced;
    if (which === 'services') this.#servicesSynced = true;
    else this.#slicesSynced = true;
    // The first sync must happen even in an empty cluster: nudge the loop once.
    return !before && this.synced;
  }

  // ---- queries ----

  /** Both initial lists (Services and EndpointSlices) have been processed. */
  get synced(): boolean {
    return this.#servicesSynced && this.#slicesSynced;
  }

  /** Our own Node, if seen (and not deleted). */
  node(): NodeInfo | undefined {
    return this.#node;
  }

  /**
   * Pending changes (for metrics): Services with changes, and EndpointSlice change events. O(1):
   * it is read on every event, so it must not walk the pending changes (at 10k Services that
   * made the initial list quadratic). A dual-stack Service counts once per family; the Service
   * figure is the largest family's, as each of upstream's per-family proxiers reports its own.
   */
  pending(): { services: number; endpoints: number } {
    let services = 0;
    let endpoints = 0;
    for (const f of this.#families) {
      services = Math.max(services, f.services.pendingCount);
      endpoints += f.endpoints.pendingCount;
    }
    return { services, endpoints };
  }

  /** Services currently proxied (decoded and not skipped), pending changes included. */
  get serviceCount(): number {
    return this.#services.size;
  }

  /** EndpointSlices currently tracked, all families, pending changes included. */
  get endpointSliceCount(): number {
    return this.#families.reduce((n, f) => n + f.endpoints.sliceCount, 0);
  }

  /** Applies pending changes and returns one immutable snapshot per family. */
  takeSnapshots(): Snapshots {
    const topologyChanged = this.#topology !== this.#snapshotTopology;
    this.#snapshotTopology = this.#topology;
    const changeTriggerTimes: number[] = [];
    const families = this.#families.map((f): FamilySnapshot => {
      const svc = f.services.apply();
      const eps = f.endpoints.apply();
      for (const times of eps.lastChangeTriggerTimes.values()) changeTriggerTimes.push(...times);
      return Object.freeze({
        family: f.family,
        nodeName: this.#nodeName,
        nodeLabels: this.#topology,
        services: svc.services,
        portsByService: svc.portsByService,
        endpoints: eps.endpoints,
        changedServices: new Set([...svc.updatedServices, ...eps.updatedServices]),
        deletedUDPClusterIPs: svc.deletedUDPClusterIPs,
        deletedUDPEndpoints: Object.freeze(eps.deletedUDPEndpoints),
        newlyActiveUDPServices: Object.freeze(eps.newlyActiveUDPServices),
        ...(this.#cidrsByFamily === undefined ? {} : { serviceCIDRs: this.#cidrsByFamily.get(f.family) ?? [] }),
      });
    });
    return { families, topologyChanged, changeTriggerTimes };
  }
}
