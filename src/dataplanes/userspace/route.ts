// Which pool serves a connection, by entry point and client. Internal entry points (the
// ClusterIP) use the cluster pool, or the local one with internalTrafficPolicy Local.
// External ones (NodePort, externalIPs, LoadBalancer IPs) use the cluster pool, or with
// externalTrafficPolicy Local the local pool — except for clients on this node itself, which
// upstream short-circuits to the cluster endpoints (a node-local client would otherwise see
// the service as down on a node without local endpoints).

import type { ServicePortName } from '../../model/types.ts';
import type { EndpointPool } from './pool.ts';

export type EntryKind = 'internal' | 'external';

export interface Route {
  readonly name: ServicePortName;
  /** Whether poolFor looks at the client address (else '' may be passed, saving a getpeername). */
  readonly needsClientIP: boolean;
  /** The pool for a connection from `clientIP`; undefined: the service port is gone. */
  poolFor(clientIP: string): EndpointPool | undefined;
}

/** The mutable routing of one service port; listeners hold it and see updates at once. */
export class PortRoute implements Route {
  readonly name: ServicePortName;
  readonly kind: EntryKind;
  pool: EndpointPool | undefined;
  /** Used instead of `pool` for node-local clients (externalTrafficPolicy Local only). */
  localClientPool: EndpointPool | undefined;
  /** Endpoints UDP flows may stay pinned to: ready, or serving while terminating. */
  alive: ReadonlySet<string> = new Set();
  readonly #isNodeLocal: (ip: string) => boolean;

  constructor(name: ServicePortName, kind: EntryKind, isNodeLocal: (ip: string) => boolean) {
    this.name = name;
    this.kind = kind;
    this.#isNodeLocal = isNodeLocal;
  }

  get needsClientIP(): boolean {
    return this.localClientPool !== undefined;
  }

  poolFor(clientIP: string): EndpointPool | undefined {
    if (this.localClientPool !== undefined && this.#isNodeLocal(clientIP)) return this.localClientPool;
    return this.pool;
  }
}

/** Strips the IPv4-mapped prefix Node reports on dual-stack sockets ("::ffff:10.0.0.1"). */
export function normalizeClientIP(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
