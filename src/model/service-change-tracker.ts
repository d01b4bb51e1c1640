// Per-family Service change tracking (upstream servicechangetracker.go): between syncs, keep
// for each changed Service its (previous, current) ServicePorts; `apply()` folds the pending
// changes into the applied state and reports what changed, so a sync touches only those.
//
// Unlike upstream, `previous` is our own applied state, not the informer's old object: a
// source that replays or misses an event cannot make the two disagree.

import type { DecodedService } from './decode/service.ts';
import { PersistentMap } from './persistent-map.ts';
import { needsConntrackCleanup, servicePortMapsEqual, servicePortsForFamily, type ServicePortMap } from './service-port.ts';
import type { IPFamily, ServiceKey, ServicePort } from './types.ts';

interface ServiceChange {
  readonly previous: ServicePortMap | undefined;
  current: ServicePortMap | undefined;
}

export interface ServiceApplyResult {
  /** Services whose ports were added, changed or removed (upstream UpdatedServices). */
  readonly updatedServices: ReadonlySet<ServiceKey>;
  /** Cluster IPs of removed UDP/SCTP service ports (upstream DeletedUDPClusterIPs). */
  readonly deletedUDPClusterIPs: ReadonlySet<string>;
  /** The applied service ports after this apply: an immutable version, safe to hand out. */
  readonly services: PersistentMap<ServicePort>;
  /** Port keys of each applied Service (an index into `services`), same immutability. */
  readonly portsByService: PersistentMap<readonly string[]>;
}

export class ServiceChangeTracker {
  readonly family: IPFamily;
  readonly #applied = new Map<ServiceKey, ServicePortMap>();
  readonly #items = new Map<ServiceKey, ServiceChange>();
  #services = PersistentMap.empty<ServicePort>();
  #portsByService = PersistentMap.empty<readonly string[]>();

  constructor(family: IPFamily) {
    this.family = family;
  }

  /**
   * Records the latest state of Service `key` (undefined: deleted or not proxied). Returns
   * whether this changed what the next sync would program (false for no-op updates).
   */
  update(key: ServiceKey, svc: DecodedService | undefined): boolean {
    const current = svc === undefined ? undefined : servicePortsForFamily(svc, this.family);
    const item = this.#items.get(key);
    const before = item === undefined ? this.#applied.get(key) : item.current;
    if (servicePortMapsEqual(before, current)) return false;
    if (item === undefined) {
      this.#items.set(key, { previous: this.#applied.get(key), current });
    } else if (servicePortMapsEqual(item.previous, current)) {
      this.#items.delete(key); // changed back to what is applied: nothing to sync
    } else {
      item.current = current;
    }
    return true;
  }

  /** Number of Services with pending changes (upstream sync_proxy_rules_service_changes_pending). */
  get pendingCount(): number {
    return this.#items.size;
  }

  pendingKeys(): IterableIterator<ServiceKey> {
    return this.#items.keys();
  }

  /** The applied service ports (the latest `apply()` result). */
  get services(): PersistentMap<ServicePort> {
    return this.#services;
  }

  /** Applied ports of one Service. */
  servicePorts(key: ServiceKey): ServicePortMap | undefined {
    return this.#applied.get(key);
  }

  /** Folds pending changes into the applied state: O(changed service ports). */
  apply(): ServiceApplyResult {
    const updatedServices = new Set<ServiceKey>();
    const deletedUDPClusterIPs = new Set<string>();
    if (this.#items.size === 0) return { updatedServices, deletedUDPClusterIPs, services: this.#services, portsByService: this.#portsByService };
    const b = this.#services.builder();
    const idx = this.#portsByService.builder();
    for (const [key, change] of this.#items) {
      updatedServices.add(key);
      for (const [portKey, sp] of change.previous ?? []) {
        if (change.current?.has(portKey) === true) continue;
        if (needsConntrackCleanup(sp.protocol)) deletedUDPClusterIPs.add(sp.clusterIP);
        b.delete(portKey);
      }
      for (const [portKey, sp] of change.current ?? []) b.set(portKey, sp);
      if (change.current === undefined || change.current.size === 0) {
        this.#applied.delete(key);
        idx.delete(key);
      } else {
        this.#applied.set(key, change.current);
        idx.set(key, Object.freeze([...change.current.keys()]));
      }
    }
    this.#items.clear();
    this.#services = b.build();
    this.#portsByService = idx.build();
    return { updatedServices, deletedUDPClusterIPs, services: this.#services, portsByService: this.#portsByService };
  }
}
