// What the lab says to the agents running inside its namespaces (test/lab/agent.ts), over a
// unix socket in the lab's temp dir (unix sockets live in the filesystem, so they cross network
// namespaces): one JSON line in, one JSON line out, per connection.
//
// Pod servers answer TCP (HTTP) and UDP with "<pod> <clientIP>:<clientPort> <proto>/<port>":
// the pod's name, the source address it saw, and which of its ports served the request.
// Line servers (TCP) answer every line received with the same text on a connection that stays
// open: what long-lived connections are made of (`hold`, then `holdPing` them later).

/** One request's outcome as the client saw it. */
export type Hit =
  | { readonly ok: true; readonly pod: string; readonly clientIP: string; readonly clientPort: number; readonly served: string; readonly from: string; readonly ms: number }
  | { readonly ok: false; readonly error: string; readonly ms: number };

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs?: number;
  /** Source address to bind (one of the namespace's own). */
  readonly localAddress?: string;
  /** Source port to bind (0 or absent: any). */
  readonly localPort?: number;
}

export interface LoadReport {
  readonly total: number;
  readonly failed: number;
  /** The first failures, with the time since the load started. */
  readonly failures: readonly { readonly atMs: number; readonly error: string }[];
  readonly pods: Readonly<Record<string, number>>;
  /** Every failure counted by error ("ECONNREFUSED": 12). */
  readonly errors: Readonly<Record<string, number>>;
  /** When the first and the last failure ended, ms since the load started (null: none). */
  readonly firstFailureAtMs: number | null;
  readonly lastFailureAtMs: number | null;
  /** The slowest successful connection (ms), e.g. one that needed a SYN retransmit. */
  readonly slowestOkMs: number;
  /** Successful connections that took 500 ms or more (a SYN retransmitted at least once). */
  readonly delayedOk: number;
}

/** A connection kept open by `hold`: its id for holdPing/holdClose, and its first round trip. */
export interface Held {
  readonly id: number;
  readonly hit: Hit;
}

/** Kinds of client request: HTTP on a new TCP connection, one UDP datagram, one line round trip. */
export type HitProto = 'tcp' | 'udp' | 'line';

export interface StreamReport {
  readonly sent: number;
  /** Every reply in order, with the time since the stream started. */
  readonly replies: readonly { readonly atMs: number; readonly pod: string; readonly from: string }[];
}

export type AgentRequest =
  | { readonly op: 'ping' }
  | ({ readonly op: 'tcp' | 'udp' } & Target)
  | ({ readonly op: 'batch'; readonly proto: HitProto; readonly count: number; readonly concurrency?: number } & Target)
  | { readonly op: 'get'; readonly url: string; readonly timeoutMs?: number }
  | ({ readonly op: 'loadStart'; readonly proto: 'tcp' | 'udp'; readonly intervalMs: number } & Target)
  | { readonly op: 'loadStop'; readonly id: number }
  | ({ readonly op: 'streamStart'; readonly intervalMs: number } & Target)
  | { readonly op: 'streamPeek' | 'streamStop'; readonly id: number }
  | { readonly op: 'serve'; readonly proto: 'tcp' | 'udp' | 'line'; readonly port: number; readonly on: boolean }
  | ({ readonly op: 'holdOpen'; readonly count: number } & Target)
  | { readonly op: 'holdPing'; readonly ids?: readonly number[]; readonly timeoutMs?: number }
  | { readonly op: 'holdClose'; readonly ids?: readonly number[] };

export interface GetResult {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export type AgentResponse =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string };

/** Formats the reply of a pod server. */
export function formatReply(pod: string, clientIP: string, clientPort: number, proto: 'tcp' | 'udp', port: number): string {
  const ip = clientIP.startsWith('::ffff:') ? clientIP.slice(7) : clientIP;
  const addr = ip.includes(':') ? `[${ip}]:${clientPort}` : `${ip}:${clientPort}`;
  return `${pod} ${addr} ${proto}/${port}`;
}

/** Parses a pod server's reply; undefined when it is not one. */
export function parseReply(text: string): { pod: string; clientIP: string; clientPort: number; served: string } | undefined {
  const m = /^(\S+) (?:\[([^\]]+)\]|([^\s:]+)):(\d+) (\S+)\s*$/.exec(text);
  if (!m) return undefined;
  return { pod: m[1] ?? '', clientIP: m[2] ?? m[3] ?? '', clientPort: Number(m[4]), served: m[5] ?? '' };
}
