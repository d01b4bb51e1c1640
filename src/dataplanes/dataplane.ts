// What a dataplane is: something that takes the node-local model and programs the node.
// Dataplanes see only immutable snapshots (model/types.ts), never API objects.

import type { FamilySnapshot } from '../model/types.ts';

export type ProxyMode = 'nftables' | 'iptables' | 'userspace';

export interface SyncRequest {
  /** Rewrite everything (first sync, after a failure, every syncPeriod) rather than only changes. */
  readonly full: boolean;
  /** One snapshot per IP family this node proxies. */
  readonly families: readonly FamilySnapshot[];
}

export interface Dataplane {
  readonly mode: ProxyMode;
  /**
   * Program the node to match the snapshots. Throws on failure; the previous programming must
   * then still be in place, and the caller retries with a full sync.
   */
  sync(request: SyncRequest): Promise<void>;
  /** Remove everything this dataplane ever created (`--cleanup`). */
  cleanup(): Promise<void>;
  /** Release resources (listeners, child processes) without removing programmed state. */
  close(): Promise<void>;
}
