// Metrics of a serving thread: counted locally (plain numbers, nothing crosses threads per
// connection) and shipped to the main thread as deltas every metricsIntervalMs, where
// replayDeltas() feeds them to the dataplane's real UserspaceMetrics. Counts therefore lag by
// at most that interval.

import type { ServicePortName } from '../../../model/types.ts';
import type { RefusalReason, UserspaceMetrics } from '../metrics.ts';
import type { ServiceDelta } from './protocol.ts';

export class DeltaMetrics implements UserspaceMetrics {
  #deltas = new Map<string, ServiceDelta>();

  #of(name: ServicePortName): ServiceDelta {
    let d = this.#deltas.get(name.key);
    if (d === undefined) {
      d = { name, opened: 0, closed: 0, bytesIn: 0, bytesOut: 0, selected: new Map(), failed: new Map(), refused: new Map() };
      this.#deltas.set(name.key, d);
    }
    return d;
  }

  connectionOpened(service: ServicePortName): void {
    this.#of(service).opened++;
  }

  connectionClosed(service: ServicePortName, bytesIn: number, bytesOut: number): void {
    const d = this.#of(service);
    d.closed++;
    d.bytesIn += bytesIn;
    d.bytesOut += bytesOut;
  }

  endpointSelected(service: ServicePortName, endpoint: string): void {
    const m = this.#of(service).selected;
    m.set(endpoint, (m.get(endpoint) ?? 0) + 1);
  }

  connectFailed(service: ServicePortName, endpoint: string): void {
    const m = this.#of(service).failed;
    m.set(endpoint, (m.get(endpoint) ?? 0) + 1);
  }

  refused(service: ServicePortName, reason: RefusalReason): void {
    const m = this.#of(service).refused;
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  /** Everything counted since the previous take (empty when nothing happened). */
  take(): ServiceDelta[] {
    if (this.#deltas.size === 0) return [];
    const out = [...this.#deltas.values()];
    this.#deltas = new Map();
    return out;
  }
}

/** Apply a thread's deltas to the real metrics, as if its events had happened here. */
export function replayDeltas(metrics: UserspaceMetrics, deltas: readonly ServiceDelta[]): void {
  for (const d of deltas) {
    for (let i = 0; i < d.opened; i++) metrics.connectionOpened(d.name);
    for (let i = 0; i < d.closed; i++) {
      // Bytes are counters: their sum is what matters, so the first close carries them all.
      if (i === 0) metrics.connectionClosed(d.name, d.bytesIn, d.bytesOut);
      else metrics.connectionClosed(d.name, 0, 0);
    }
    for (const [endpoint, n] of d.selected) for (let i = 0; i < n; i++) metrics.endpointSelected(d.name, endpoint);
    for (const [endpoint, n] of d.failed) for (let i = 0; i < n; i++) metrics.connectFailed(d.name, endpoint);
    for (const [reason, n] of d.refused) for (let i = 0; i < n; i++) metrics.refused(d.name, reason);
  }
}
