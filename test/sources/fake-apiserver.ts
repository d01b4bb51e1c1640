// A small Kubernetes API server for tests: a store with resourceVersions, paginated lists,
// streamed watches with bookmarks and history replay, label/field selectors, and fault knobs
// (drop watches, compact history, go silent, fail the next N requests, bad JSON, restart).
// Binds 127.0.0.1 only.

import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface FakeResource {
  readonly path: string;
  readonly kind: string;
  readonly listKind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
}

export const SERVICES: FakeResource = { path: '/api/v1/services', kind: 'Service', listKind: 'ServiceList', apiVersion: 'v1', namespaced: true };
export const ENDPOINT_SLICES: FakeResource = {
  path: '/apis/discovery.k8s.io/v1/endpointslices', kind: 'EndpointSlice', listKind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', namespaced: true,
};
export const NODES: FakeResource = { path: '/api/v1/nodes', kind: 'Node', listKind: 'NodeList', apiVersion: 'v1', namespaced: false };
/** Not served unless added (FakeApiServerOptions.serviceCIDRs): older API servers answer 404. */
export const SERVICE_CIDRS: FakeResource = {
  path: '/apis/networking.k8s.io/v1/servicecidrs', kind: 'ServiceCIDR', listKind: 'ServiceCIDRList', apiVersion: 'networking.k8s.io/v1', namespaced: false,
};

export interface FakeMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  [k: string]: unknown;
}
export interface FakeObject {
  metadata: FakeMeta;
  [k: string]: unknown;
}

interface HistoryEvent {
  readonly rv: number;
  readonly resource: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly old: FakeObject | undefined;
  readonly obj: FakeObject;
}

interface WatchConn {
  readonly resource: FakeResource;
  readonly res: http.ServerResponse;
  readonly match: (o: FakeObject) => boolean;
  silent: boolean;
  readonly timers: NodeJS.Timeout[];
}

export interface RecordedRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly watch: boolean;
  readonly clientCertCN: string | undefined;
  readonly at: number;
}

export interface FakeApiServerOptions {
  readonly tls?: { readonly key: string; readonly cert: string; readonly ca?: string; readonly requestCert?: boolean };
  /** false → 401. */
  readonly authorize?: (req: http.IncomingMessage) => boolean;
  /** Bookmark period on watches that allow bookmarks; 0 (default) sends none. */
  readonly bookmarkIntervalMs?: number;
  /** Serve ServiceCIDRs (networking.k8s.io/v1); default not: 404, as an API server before 1.33. */
  readonly serviceCIDRs?: boolean;
}

interface Fault { readonly status: number; readonly retryAfterSeconds: number | undefined }

export class FakeApiServer {
  private readonly opts: FakeApiServerOptions;
  private readonly resources: Map<string, FakeResource>;
  private readonly stores = new Map<string, Map<string, FakeObject>>();
  private history: HistoryEvent[] = [];
  private rv = 100;
  private compactedRv = 100;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<WatchConn>();
  private readonly snapshots = new Map<string, { readonly rv: number; readonly items: FakeObject[] }>();
  private readonly faults: Fault[] = [];
  private badListJson = 0;
  private failContinue = 0;
  port = 0;
  readonly requests: RecordedRequest[] = [];
  /** How a watch from a compacted resourceVersion fails: HTTP 410, or 200 + ERROR event. */
  expiredMode: 'http' | 'event' = 'event';
  readyzStatus = 200;
  /** Every watch fails as expired (a broken server): the client must not spin. */
  expireAllWatches = false;

  private constructor(opts: FakeApiServerOptions) {
    this.opts = opts;
    this.resources = new Map([SERVICES, ENDPOINT_SLICES, NODES, ...(opts.serviceCIDRs === true ? [SERVICE_CIDRS] : [])].map((r) => [r.path, r]));
  }

  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    await s.listen();
    return s;
  }

  get url(): string {
    return `${this.opts.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get openWatches(): number {
    return this.watches.size;
  }

  // ---- state -------------------------------------------------------------------------------

  upsert(resource: FakeResource, obj: FakeObject): FakeObject {
    const store = this.store(resource);
    const key = keyOf(obj);
    const old = store.get(key);
    const rv = ++this.rv;
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(rv);
    stored.metadata.uid = obj.metadata.uid ?? old?.metadata.uid ?? randomUUID();
    store.set(key, stored);
    this.record({ rv, resource: resource.path, type: old === undefined ? 'ADDED' : 'MODIFIED', old, obj: stored });
    return stored;
  }

  remove(resource: FakeResource, namespace: string | undefined, name: string): boolean {
    const store = this.store(resource);
    const key = namespace === undefined ? name : `${namespace}/${name}`;
    const old = store.get(key);
    if (old === undefined) return false;
    store.delete(key);
    const rv = ++this.rv;
    const tomb = structuredClone(old);
    tomb.metadata.resourceVersion = String(rv);
    this.record({ rv, resource: resource.path, type: 'DELETED', old, obj: tomb });
    return true;
  }

  get(resource: FakeResource, key: string): FakeObject | undefined {
    return this.store(resource).get(key);
  }

  /** key → resourceVersion of the objects a client with these selectors should see. */
  view(resource: FakeResource, labelSelector?: string, fieldSelector?: string): Record<string, string> {
    const match = matcher(labelSelector ?? '', fieldSelector ?? '');
    const out: Record<string, string> = {};
    for (const [k, o] of this.store(resource)) if (match(o)) out[k] = o.metadata.resourceVersion ?? '';
    return out;
  }

  // ---- faults ------------------------------------------------------------------------------

  /** The next `n` list/watch requests fail with `status` (Retry-After when given). */
  failNext(n: number, status: number, retryAfterSeconds?: number): void {
    for (let i = 0; i < n; i++) this.faults.push({ status, retryAfterSeconds });
  }

  /** The next `n` list responses are truncated JSON. */
  badListJsonNext(n: number): void {
    this.badListJson += n;
  }

  /** The next `n` requests with a continue token get 410 Expired. */
  expireContinueNext(n: number): void {
    this.failContinue += n;
  }

  /** Forget history: watches from an older resourceVersion get 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /** Destroys every open watch connection mid-stream. */
  dropWatches(): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) this.endWatch(w, true);
    return n;
  }

  /** Open watches stop sending anything (events, bookmarks) but stay open. New watches work. */
  silenceWatches(): void {
    for (const w of this.watches) w.silent = true;
  }

  /** Writes a raw line to every open watch of `resource`. */
  sendToWatches(resource: FakeResource, line: string): void {
    for (const w of this.watches) if (w.resource.path === resource.path && !w.silent) w.res.write(`${line}\n`);
  }

  /** Stops listening and cuts every connection. State is kept. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const w of [...this.watches]) this.endWatch(w, true);
    const closed = new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Comes back on the same port, with history compacted (like an API server after restart). */
  async start(): Promise<void> {
    if (this.server !== undefined) return;
    this.compact();
    await this.listen();
  }

  async close(): Promise<void> {
    await this.stop();
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => { this.handle(req, res); };
    const tls = this.opts.tls;
    const server = tls === undefined
      ? http.createServer(handler)
      : https.createServer({ key: tls.key, cert: tls.cert, ...(tls.ca === undefined ? {} : { ca: tls.ca }), requestCert: tls.requestCert ?? false, rejectUnauthorized: false }, handler);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => { this.sockets.delete(s); });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no address');
    this.port = addr.port;
    this.server = server;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const sock = req.socket;
    const cn = sock instanceof TLSSocket ? peerCN(sock) : undefined;
    this.requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers, watch, clientCertCN: cn, at: Date.now() });
    if (this.opts.authorize !== undefined && !this.opts.authorize(req)) {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    if (url.pathname === '/readyz') {
      res.writeHead(this.readyzStatus, { 'content-type': 'text/plain' }).end(this.readyzStatus === 200 ? 'ok' : 'not ready');
      return;
    }
    const resource = this.resources.get(url.pathname);
    if (resource === undefined) {
      status(res, 404, 'NotFound', `no resource at ${url.pathname}`);
      return;
    }
    const fault = this.faults.shift();
    if (fault !== undefined) {
      if (fault.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(fault.retryAfterSeconds));
      status(res, fault.status, fault.status === 429 ? 'TooManyRequests' : 'InternalError', `injected ${fault.status}`);
      return;
    }
    if (watch) this.watch(resource, url.searchParams, res);
    else this.list(resource, url.searchParams, res);
  }

  private list(resource: FakeResource, q: URLSearchParams, res: http.ServerResponse): void {
    if (this.badListJson > 0) {
      this.badListJson--;
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"kind":"${resource.listKind}","items":[{"metadata":`);
      return;
    }
    const limit = Number(q.get('limit') ?? '0');
    const cont = q.get('continue');
    let snapId: string;
    let offset = 0;
    if (cont !== null && cont !== '') {
      const [id, off] = cont.split(':');
      const known = id !== undefined && this.snapshots.has(id);
      if (this.failContinue > 0 || !known) {
        if (this.failContinue > 0) this.failContinue--;
        status(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.');
        return;
      }
      snapId = id;
      offset = Number(off);
    } else {
      const match = matcher(q.get('labelSelector') ?? '', q.get('fieldSelector') ?? '');
      const items = [...this.store(resource).values()].filter(match).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
      snapId = randomUUID();
      this.snapshots.set(snapId, { rv: this.rv, items: structuredClone(items) });
    }
    const snap = this.snapshots.get(snapId);
    if (snap === undefined) throw new Error('snapshot vanished');
    const end = limit > 0 ? Math.min(offset + limit, snap.items.length) : snap.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snap.rv) };
    if (end < snap.items.length) {
      metadata['continue'] = `${snapId}:${end}`;
      metadata['remainingItemCount'] = snap.items.length - end;
    } else {
      this.snapshots.delete(snapId);
    }
    const body = { kind: resource.listKind, apiVersion: resource.apiVersion, metadata, items: snap.items.slice(offset, end) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private watch(resource: FakeResource, q: URLSearchParams, res: http.ServerResponse): void {
    const rvParam = q.get('resourceVersion');
    const from = rvParam === null || rvParam === '' ? this.rv : Number(rvParam);
    // A real API server answers "too large resource version" differently; 410 is enough here.
    if (this.expireAllWatches || !Number.isInteger(from) || from < this.compactedRv || from > this.rv) {
      const message = `too old resource version: ${rvParam ?? ''} (${this.compactedRv})`;
      if (this.expiredMode === 'http') {
        status(res, 410, 'Expired', message);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', message) })}\n`);
      }
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const conn: WatchConn = { resource, res, match: matcher(q.get('labelSelector') ?? '', q.get('fieldSelector') ?? ''), silent: false, timers: [] };
    this.watches.add(conn);
    res.on('close', () => { this.endWatch(conn, false); });
    for (const ev of this.history) if (ev.resource === resource.path && ev.rv > from) this.send(conn, ev);
    const timeout = Number(q.get('timeoutSeconds') ?? '0');
    if (timeout > 0) conn.timers.push(setTimeout(() => { this.endWatch(conn, false); }, timeout * 1000));
    const every = this.opts.bookmarkIntervalMs ?? 0;
    if (every > 0 && q.get('allowWatchBookmarks') === 'true') {
      conn.timers.push(setInterval(() => {
        if (conn.silent) return;
        const object = { kind: resource.kind, apiVersion: resource.apiVersion, metadata: { resourceVersion: String(this.rv) } };
        res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
      }, every));
    }
  }

  private endWatch(conn: WatchConn, abrupt: boolean): void {
    if (!this.watches.delete(conn)) return;
    for (const t of conn.timers) clearTimeout(t);
    if (abrupt) conn.res.destroy();
    else conn.res.end();
  }

  private record(ev: HistoryEvent): void {
    this.history.push(ev);
    for (const w of this.watches) if (w.resource.path === ev.resource) this.send(w, ev);
  }

  /** Like the API server, selectors turn label changes into ADDED / DELETED. */
  private send(conn: WatchConn, ev: HistoryEvent): void {
    if (conn.silent) return;
    const now = conn.match(ev.obj);
    const before = ev.old !== undefined && conn.match(ev.old);
    let type: string;
    if (ev.type === 'DELETED') {
      if (!before) return;
      type = 'DELETED';
    } else if (now && before) type = 'MODIFIED';
    else if (now) type = 'ADDED';
    else if (before) type = 'DELETED';
    else return;
    const object = { kind: conn.resource.kind, apiVersion: conn.resource.apiVersion, ...ev.obj };
    conn.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private store(resource: FakeResource): Map<string, FakeObject> {
    let s = this.stores.get(resource.path);
    if (s === undefined) {
      s = new Map();
      this.stores.set(resource.path, s);
    }
    return s;
  }
}

function keyOf(o: FakeObject): string {
  return o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`;
}

function peerCN(sock: TLSSocket): string | undefined {
  // An empty object when the client sent no certificate.
  const subject: unknown = sock.getPeerCertificate().subject;
  if (typeof subject !== 'object' || subject === null || !('CN' in subject)) return undefined;
  return typeof subject.CN === 'string' ? subject.CN : undefined;
}

function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(statusBody(code, reason, message)));
}

/** Label selectors (`k`, `!k`, `k=v`, `k==v`, `k!=v`) and field selectors (`a.b=v`, `a.b!=v`). */
export function matcher(labelSelector: string, fieldSelector: string): (o: FakeObject) => boolean {
  const labelTerms = labelSelector.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const fieldTerms = fieldSelector.split(',').map((t) => t.trim()).filter((t) => t !== '');
  return (o) => {
    const labels = o.metadata.labels ?? {};
    for (const t of labelTerms) {
      const m = /^(.+?)(!=|==|=)(.*)$/.exec(t);
      if (m === null) {
        if (t.startsWith('!') ? t.slice(1) in labels : !(t in labels)) return false;
        continue;
      }
      const [, k = '', op, v] = m;
      const has = Object.hasOwn(labels, k);
      if (op === '!=' ? has && labels[k] === v : !has || labels[k] !== v) return false;
    }
    for (const t of fieldTerms) {
      const m = /^(.+?)(!=|==|=)(.*)$/.exec(t);
      if (m === null) return false;
      const [, path = '', op, v] = m;
      const actual = fieldValue(o, path);
      if (op === '!=' ? actual === v : actual !== v) return false;
    }
    return true;
  };
}

function fieldValue(o: FakeObject, path: string): string {
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string' ? cur : '';
}
