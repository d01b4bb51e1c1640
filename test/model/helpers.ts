// Test helpers for the model tests: decode-or-fail wrappers and comparable views of maps.

import assert from 'node:assert/strict';
import { decodeEndpointSlice, type DecodedEndpointSlice } from '../../src/model/decode/endpointslice.ts';
import { decodeService, type DecodedService } from '../../src/model/decode/service.ts';
import { EndpointsChangeTracker } from '../../src/model/endpoints-change-tracker.ts';
import type { EndpointsMap } from '../../src/model/endpointslice-cache.ts';
import type { Endpoint } from '../../src/model/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import type { EndpointSliceJSON } from './builders.ts';

export function mustDecodeSlice(obj: unknown): DecodedEndpointSlice {
  const d = decodeEndpointSlice(obj, silentLogger());
  assert.ok(d, 'slice should decode');
  return d;
}

export function mustDecodeService(obj: unknown): DecodedService {
  const d = decodeService(obj, silentLogger());
  assert.ok(d, 'service should decode');
  return d;
}

/** The fields upstream's compareEndpointsMapsStr compares. */
export interface EpView {
  key: string;
  isLocal: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** Shorthand: ep('10.0.1.1:80', 'L', 'R', 'S', 'T') with flags present meaning true. */
export function epv(key: string, ...flags: ('L' | 'R' | 'S' | 'T')[]): EpView {
  return { key, isLocal: flags.includes('L'), ready: flags.includes('R'), serving: flags.includes('S'), terminating: flags.includes('T') };
}

export function viewEndpoints(eps: readonly Endpoint[]): EpView[] {
  return eps.map((e) => ({ key: e.key, isLocal: e.isLocal, ready: e.ready, serving: e.serving, terminating: e.terminating }));
}

/** EndpointsMap (or a snapshot's endpoints) as a plain object for deepEqual. */
export function viewEndpointsMap(m: EndpointsMap | ReadonlyMap<string, readonly Endpoint[]>): Record<string, EpView[]> {
  const out: Record<string, EpView[]> = {};
  for (const [k, v] of m) out[k] = viewEndpoints(Array.isArray(v) ? (v as readonly Endpoint[]) : (v as { endpoints: readonly Endpoint[] }).endpoints);
  return out;
}

export const testHostname = 'test-hostname';

/** Feeds an EndpointsChangeTracker the way ProxyState does: decode, then update or (if unusable) remove. */
export class EndpointsHarness {
  readonly tracker: EndpointsChangeTracker;
  constructor(hostname = testHostname, start = 0) {
    this.tracker = new EndpointsChangeTracker('IPv4', hostname, start);
  }
  add(slice: EndpointSliceJSON): boolean {
    const d = decodeEndpointSlice(slice, silentLogger());
    return d === undefined ? this.tracker.remove(slice.metadata.namespace ?? '', slice.metadata.name) : this.tracker.update(d);
  }
  delete(slice: EndpointSliceJSON): boolean {
    return this.tracker.remove(slice.metadata.namespace ?? '', slice.metadata.name);
  }
}
