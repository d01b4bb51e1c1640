// Messages between the dataplane (main thread) and its serving threads (worker.ts). Both ends
// are our own code, but what arrives through a MessagePort is `unknown`: the guards below
// check the shape before use.

import type { Endpoint, LoadBalancingAlgorithm, ServicePort, ServicePortName } from '../../../model/types.ts';
import type { BackoffPolicy } from '../balancers/index.ts';
import type { RefusalReason } from '../metrics.ts';
import type { EntryKind } from '../route.ts';
import type { ForwarderSettings } from '../tcp.ts';

/** workerData of a serving thread. */
export interface WorkerInit {
  /** 1-based (0 is the main thread). */
  readonly thread: number;
  readonly settings: ForwarderSettings;
  readonly backoff: BackoffPolicy;
  readonly maxConnections: number;
  /** The global connection count (ConnectionBudget's shared cell). */
  readonly budgetCell: Int32Array;
  /** Node IPs and local addresses: clients from these are node-local. */
  readonly localAddresses: readonly string[];
  readonly defaultAlgorithm: LoadBalancingAlgorithm;
  /** How often the thread sends its metric deltas to the main thread. */
  readonly metricsIntervalMs: number;
  /** The main logger's level ('info', 'debug', …): the thread logs through the main thread. */
  readonly logLevel: string;
  /**
   * Listen on ports of the thread's own (redirect mode: nftables picks the thread, round
   * robin) rather than join the main thread's (SO_REUSEPORT: the kernel hashes the 4-tuple).
   */
  readonly ownPorts: boolean;
}

/**
 * A listener the thread opens: on the port the main thread bound (SO_REUSEPORT), or with
 * ownPorts on a port of its own: `port` is the one it should take (its own from before, or a
 * previous process's), 0 for any.
 */
export interface ThreadListen {
  readonly key: string;
  readonly kind: EntryKind;
  readonly host: string;
  readonly port: number;
}

/** A listener's bound port, as a thread reports it. */
export interface BoundPort {
  readonly listen: string;
  readonly port: number;
}

/** The whole state of one service port a thread serves (idempotent: replaces what it had). */
export interface PortMessage {
  readonly type: 'port';
  /** Acknowledged with an 'applied' message once the listeners are up (or failed). */
  readonly seq: number;
  /** "<family>|<service port key>". */
  readonly key: string;
  readonly sp: ServicePort;
  readonly endpoints: readonly Endpoint[];
  readonly nodeName: string;
  readonly nodeLabels: ReadonlyMap<string, string>;
  readonly listens: readonly ThreadListen[];
}

export type ToWorker =
  | PortMessage
  /** Stop serving a port: listeners close, established connections drain. Acknowledged. */
  | { readonly type: 'remove'; readonly seq: number; readonly key: string }
  /** Close every listener and connection, send the last metrics, answer 'closed'. */
  | { readonly type: 'close' };

/** What one thread counted for one service port since its previous report. */
export interface ServiceDelta {
  readonly name: ServicePortName;
  opened: number;
  closed: number;
  bytesIn: number;
  bytesOut: number;
  readonly selected: Map<string, number>;
  readonly failed: Map<string, number>;
  readonly refused: Map<RefusalReason, number>;
}

export type FromWorker =
  | { readonly type: 'metrics'; readonly deltas: readonly ServiceDelta[] }
  /** One pino JSON line, re-emitted by the main logger. */
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'listen-failed'; readonly key: string; readonly listen: string; readonly code: string }
  /** Message `seq` has been applied; for a port message, the ports its listeners are bound to. */
  | { readonly type: 'applied'; readonly seq: number; readonly key?: string; readonly ports?: readonly BoundPort[] }
  | { readonly type: 'closed' };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function isToWorker(v: unknown): v is ToWorker {
  if (!isRecord(v)) return false;
  switch (v['type']) {
    case 'port': return typeof v['seq'] === 'number' && typeof v['key'] === 'string' && isRecord(v['sp']) && Array.isArray(v['endpoints']) && Array.isArray(v['listens'])
      && typeof v['nodeName'] === 'string' && v['nodeLabels'] instanceof Map;
    case 'remove': return typeof v['seq'] === 'number' && typeof v['key'] === 'string';
    case 'close': return true;
    default: return false;
  }
}

export function isFromWorker(v: unknown): v is FromWorker {
  if (!isRecord(v)) return false;
  switch (v['type']) {
    case 'metrics': return Array.isArray(v['deltas']);
    case 'log': return typeof v['line'] === 'string';
    case 'listen-failed': return typeof v['key'] === 'string' && typeof v['listen'] === 'string' && typeof v['code'] === 'string';
    case 'applied': return typeof v['seq'] === 'number' && (v['key'] === undefined || typeof v['key'] === 'string')
      && (v['ports'] === undefined || (Array.isArray(v['ports']) && v['ports'].every((b) => isRecord(b) && typeof b['listen'] === 'string' && typeof b['port'] === 'number')));
    case 'closed': return true;
    default: return false;
  }
}

export function isWorkerInit(v: unknown): v is WorkerInit {
  return isRecord(v) && typeof v['thread'] === 'number' && isRecord(v['settings']) && isRecord(v['backoff'])
    && typeof v['maxConnections'] === 'number' && v['budgetCell'] instanceof Int32Array && Array.isArray(v['localAddresses'])
    && typeof v['defaultAlgorithm'] === 'string' && typeof v['metricsIntervalMs'] === 'number' && typeof v['logLevel'] === 'string'
    && typeof v['ownPorts'] === 'boolean';
}
