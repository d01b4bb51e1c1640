// After the burst of a large full sync (initial lists, a rewrite) the heap holds ~100 MiB of
// garbage at 10k Services that V8 collects lazily and keeps committed meanwhile. One major
// collection right after such a sync gives it back at once. V8 exposes gc only behind a flag;
// setting it at run time and fetching gc from a fresh context is the documented way to get it
// without changing how the process is started.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = () => void;

let cached: GcFn | null | undefined;

function gcFunction(): GcFn | null {
  if (cached !== undefined) return cached;
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    cached = typeof fn === 'function' ? (fn as GcFn) : null;
  } catch {
    cached = null;
  }
  return cached;
}

/** Whether a major collection can be requested (for tests). */
export function canCollect(): boolean {
  return gcFunction() !== null;
}

/** Service ports at which a full sync is worth a major collection afterwards. */
export const LARGE_SYNC_PORTS = 2_000;

/** Runs a major collection soon (off the sync's critical path) if `ports` is large. */
export function collectAfterLargeSync(ports: number): void {
  if (ports < LARGE_SYNC_PORTS) return;
  const gc = gcFunction();
  if (gc === null) return;
  setImmediate(gc);
}

/**
 * Runs a major collection now if a sync is about to program `changes` (Services +
 * EndpointSlice changes) ≥ LARGE_SYNC_PORTS: the initial lists of a large cluster, or a mass
 * relist. Called once the snapshots are taken, so what the lists and the snapshot left behind
 * (JSON, decoding, the endpoints' recomputation) goes before the dataplane piles its own sync
 * on top: V8 would otherwise keep it until its next major collection, after the sync.
 */
export function collectBeforeLargeSync(changes: number): void {
  if (changes < LARGE_SYNC_PORTS) return;
  gcFunction()?.();
}
