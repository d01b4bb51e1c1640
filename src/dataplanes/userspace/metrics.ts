// Per-service metrics hooks of the userspace dataplane. The dataplane calls these; the
// composition root adapts them to Prometheus (or anything else). A "connection" is a TCP
// connection or a UDP flow (client address:port within the idle timeout). Bytes are counted
// when a connection closes (from the sockets' own counters: nothing per chunk), so a
// long-lived connection's bytes show up when it ends.

import type { ServicePortName } from '../../model/types.ts';

export type RefusalReason = 'connection-limit' | 'no-endpoints';

export interface UserspaceMetrics {
  /** A client connection or flow was accepted (it is now active). */
  connectionOpened(service: ServicePortName): void;
  /** It ended. bytesIn: client → endpoint; bytesOut: endpoint → client. */
  connectionClosed(service: ServicePortName, bytesIn: number, bytesOut: number): void;
  /** The balancer chose `endpoint` ("ip:port") for a connection attempt. */
  endpointSelected(service: ServicePortName, endpoint: string): void;
  /** Connecting to `endpoint` failed (refused, unreachable, timed out). */
  connectFailed(service: ServicePortName, endpoint: string): void;
  /** A connection or datagram was turned away. */
  refused(service: ServicePortName, reason: RefusalReason): void;
}

export const noopUserspaceMetrics: UserspaceMetrics = {
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  endpointSelected: () => undefined,
  connectFailed: () => undefined,
  refused: () => undefined,
};

/** Counters of one service port. */
export interface ServiceCounters {
  active: number;
  total: number;
  bytesIn: number;
  bytesOut: number;
  connectFailures: number;
  refused: number;
  readonly selections: Map<string, number>;
}

/** In-memory counters per service port key: for tests, debugging and simple exporters. */
export class InMemoryUserspaceMetrics implements UserspaceMetrics {
  readonly services = new Map<string, ServiceCounters>();

  /** Counters of a service port ("ns/svc:port/TCP"), created empty on first use. */
  of(key: string): ServiceCounters {
    let c = this.services.get(key);
    if (c === undefined) {
      c = { active: 0, total: 0, bytesIn: 0, bytesOut: 0, connectFailures: 0, refused: 0, selections: new Map() };
      this.services.set(key, c);
    }
    return c;
  }

  connectionOpened(service: ServicePortName): void {
    const c = this.of(service.key);
    c.active++;
    c.total++;
  }

  connectionClosed(service: ServicePortName, bytesIn: number, bytesOut: number): void {
    const c = this.of(service.key);
    c.active--;
    c.bytesIn += bytesIn;
    c.bytesOut += bytesOut;
  }

  endpointSelected(service: ServicePortName, endpoint: string): void {
    const s = this.of(service.key).selections;
    s.set(endpoint, (s.get(endpoint) ?? 0) + 1);
  }

  connectFailed(service: ServicePortName): void {
    this.of(service.key).connectFailures++;
  }

  refused(service: ServicePortName): void {
    this.of(service.key).refused++;
  }
}
