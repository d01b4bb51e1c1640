// Resource requests: get, list, watch, create, update, patch, delete, deletecollection.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomInt } from 'node:crypto';
import type { Clock } from '../../util/clock.ts';
import { ApiError, badRequest, methodNotAllowed } from '../errors.ts';
import { isObject, type Json } from '../json.ts';
import { parseFieldValidation } from '../registry/decode-body.ts';
import { supportedFields, matcher, type Reads, type Selection } from '../registry/reads.ts';
import { PATCH_TYPES, type PatchType, type Registry, type WriteOptions } from '../registry/registry.ts';
import type { Strategy } from '../registry/types.ts';
import { parseFieldSelector } from '../selectors/fields.ts';
import { EVERYTHING, parseLabelSelector } from '../selectors/labels.ts';
import type { EventType, StoredObject } from '../storage/store.ts';
import type { Route } from './router.ts';
import { negotiate, type Rendering } from './negotiate.ts';
import { decodeProtobufObject, isProtobuf } from './protobuf.ts';
import { mediaType, parseBody, readBody, sendJson, warningHeaders } from './respond.ts';
import { parseIncludeObject, partialJson, partialListJson, tableJson } from './table.ts';

type ResourceRoute = Extract<Route, { kind: 'resource' }>;

export interface ResourceDeps {
  readonly registry: Registry;
  readonly reads: Reads;
  readonly clock: Clock;
  /** Upper bound of the default watch timeout (kube-apiserver: 30–60 min). */
  readonly defaultWatchTimeoutMs: number;
}

function dryRunOf(q: URLSearchParams): boolean {
  const all = q.getAll('dryRun');
  if (all.length === 0) return false;
  for (const v of all) if (v !== 'All') throw badRequest(`dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`);
  return true;
}

function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  return v === 'true' || v === '1';
}

function selection(st: Strategy, r: ResourceRoute, q: URLSearchParams): Selection {
  const labelText = q.get('labelSelector') ?? '';
  let fieldText = q.get('fieldSelector') ?? '';
  if (r.watchPath && r.name !== undefined) fieldText = fieldText ? `${fieldText},metadata.name=${r.name}` : `metadata.name=${r.name}`;
  return {
    namespace: st.def.namespaced ? r.namespace : undefined,
    label: labelText ? parseLabelSelector(labelText) : EVERYTHING,
    field: parseFieldSelector(fieldText, supportedFields(st)),
  };
}

type ListMeta = { resourceVersion: string; continueToken?: string | undefined; remainingItemCount?: number | undefined };

function listHead(st: Strategy, meta: ListMeta): string {
  const m: Record<string, string | number> = { resourceVersion: meta.resourceVersion };
  if (meta.continueToken) m['continue'] = meta.continueToken;
  if (meta.remainingItemCount !== undefined) m['remainingItemCount'] = meta.remainingItemCount;
  return `{"kind":"${st.def.listKind}","apiVersion":"${st.def.apiVersion}","metadata":${JSON.stringify(m)},"items":[`;
}

/** Items per piece of a streamed list. */
const LIST_PIECE_ITEMS = 256;

/**
 * A list's JSON. A long one is streamed in pieces as the socket takes them (chunked, as the
 * real API server sends large lists): the client starts decoding at once instead of after the
 * whole body is built, and the body never exists as one string.
 */
async function sendList(res: ServerResponse, st: Strategy, items: readonly StoredObject[], meta: ListMeta): Promise<void> {
  const head = listHead(st, meta);
  if (items.length <= LIST_PIECE_ITEMS) {
    sendJson(res, 200, `${head}${items.map((o) => o.json).join(',')}]}`);
    return;
  }
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  let piece = head;
  for (let i = 0; i < items.length; i += LIST_PIECE_ITEMS) {
    const part = items.slice(i, i + LIST_PIECE_ITEMS).map((o) => o.json).join(',');
    piece += i === 0 ? part : `,${part}`;
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    piece = '';
    if (res.closed) return;
  }
  res.end(']}');
}

function encoder(st: Strategy, rendering: Rendering, q: URLSearchParams, clock: Clock): ((type: EventType, o: StoredObject) => string) | undefined {
  if (rendering.kind === 'table') {
    const include = parseIncludeObject(q.get('includeObject'));
    return (type, o) => `{"type":"${type}","object":${tableJson(st, [o], { resourceVersion: String(o.rv) }, include, rendering.apiVersion, clock.now())}}\n`;
  }
  if (rendering.kind === 'partial') return (type, o) => `{"type":"${type}","object":${partialJson(o, rendering.apiVersion)}}\n`;
  return undefined;
}

async function readJsonBody(req: IncomingMessage): Promise<Json> {
  const type = mediaType(req.headers['content-type']);
  if (isProtobuf(type)) return decodeProtobufObject(await readBody(req));
  if (type !== '' && type !== 'application/json' && type !== 'application/yaml' && type !== '*/*') {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
  }
  return parseBody(await readBody(req), req.headers['content-type']);
}

export async function handleResource(deps: ResourceDeps, req: IncomingMessage, res: ServerResponse, r: ResourceRoute, url: URL): Promise<void> {
  const { registry, reads, clock } = deps;
  const st = registry.strategy(r.def.resource);
  if (!st) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  const ns = r.namespace ?? '';
  const isWatch = r.watchPath || boolParam(q, 'watch') === true;
  const writeOpts = (): WriteOptions => ({ dryRun: dryRunOf(q), fieldValidation: parseFieldValidation(q.get('fieldValidation')) });

  switch (method) {
    case 'GET': {
      const rendering = negotiate(req.headers.accept, true);
      if (isWatch) {
        startWatch(deps, st, r, q, rendering, res);
        return;
      }
      if (r.name !== undefined) {
        if (st.def.namespaced && r.namespace === undefined) throw methodNotAllowed();
        const o = reads.get(st, ns, r.name);
        if (rendering.kind === 'table') sendJson(res, 200, tableJson(st, [o], { resourceVersion: String(o.rv) }, parseIncludeObject(q.get('includeObject')), rendering.apiVersion, clock.now()));
        else if (rendering.kind === 'partial') sendJson(res, 200, partialJson(o, rendering.apiVersion));
        else sendJson(res, 200, o.json);
        return;
      }
      const limitText = q.get('limit');
      const limit = limitText ? Number(limitText) : undefined;
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`invalid limit: ${JSON.stringify(limitText)}`);
      const result = await reads.list(st, {
        ...selection(st, r, q), limit, continueToken: q.get('continue') ?? undefined,
        resourceVersion: q.get('resourceVersion') ?? undefined, resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
      });
      const meta = { resourceVersion: String(result.rv), continueToken: result.continueToken, remainingItemCount: result.remainingItemCount };
      if (rendering.kind === 'table') sendJson(res, 200, tableJson(st, result.items, meta, parseIncludeObject(q.get('includeObject')), rendering.apiVersion, clock.now()));
      else if (rendering.kind === 'partial') sendJson(res, 200, partialListJson(result.items, meta, rendering.apiVersion));
      else await sendList(res, st, result.items, meta);
      return;
    }
    case 'POST': {
      if (r.name !== undefined || (st.def.namespaced && r.namespace === undefined) || r.watchPath) throw methodNotAllowed();
      negotiate(req.headers.accept, false);
      const body = await readJsonBody(req);
      const out = await registry.create(st.def.resource, ns, body, writeOpts());
      sendJson(res, 201, out.json, warningHeaders(out.warnings));
      return;
    }
    case 'PUT': {
      if (r.name === undefined || r.watchPath) throw methodNotAllowed();
      negotiate(req.headers.accept, false);
      const body = await readJsonBody(req);
      const out = await registry.update(st.def.resource, ns, r.name, body, writeOpts(), r.subresource);
      sendJson(res, 200, out.json, warningHeaders(out.warnings));
      return;
    }
    case 'PATCH': {
      if (r.name === undefined || r.watchPath) throw methodNotAllowed();
      negotiate(req.headers.accept, false);
      const type = mediaType(req.headers['content-type']);
      if (!(PATCH_TYPES as readonly string[]).includes(type)) {
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`);
      }
      const body = parseBody(await readBody(req), 'application/json');
      const out = await registry.patch(st.def.resource, ns, r.name, type as PatchType, body, writeOpts(), r.subresource);
      sendJson(res, 200, out.json, warningHeaders(out.warnings));
      return;
    }
    case 'DELETE': {
      if (r.watchPath || r.subresource !== undefined) throw methodNotAllowed();
      const raw = await readBody(req);
      let dryRun = dryRunOf(q);
      let preconditions: { uid?: string; resourceVersion?: string } | undefined;
      if (raw.length > 0 && raw.toString('utf8').trim() !== '') {
        const opts = parseBody(raw, req.headers['content-type']);
        if (isObject(opts)) {
          const dr = opts['dryRun'];
          if (Array.isArray(dr) && dr.includes('All')) dryRun = true;
          const p = opts['preconditions'];
          if (isObject(p)) {
            preconditions = {};
            if (typeof p['uid'] === 'string') preconditions.uid = p['uid'];
            if (typeof p['resourceVersion'] === 'string') preconditions.resourceVersion = p['resourceVersion'];
          }
        }
      }
      const delOpts = preconditions ? { dryRun, preconditions } : { dryRun };
      if (r.name === undefined) {
        if (st.def.resource === 'namespaces') throw methodNotAllowed();
        const out = await registry.deleteCollection(st.def.resource, st.def.namespaced ? r.namespace : undefined, matcher(st, selection(st, r, q)), delOpts);
        sendJson(res, 200, out.json);
        return;
      }
      if (st.def.namespaced && r.namespace === undefined) throw methodNotAllowed();
      const out = await registry.delete(st.def.resource, ns, r.name, delOpts);
      sendJson(res, 200, out.json);
      return;
    }
    default:
      throw methodNotAllowed();
  }
}

function startWatch(deps: ResourceDeps, st: Strategy, r: ResourceRoute, q: URLSearchParams, rendering: Rendering, res: ServerResponse): void {
  const sel = selection(st, r, q);
  const timeoutText = q.get('timeoutSeconds');
  const timeoutMs = timeoutText && Number(timeoutText) > 0
    ? Number(timeoutText) * 1000
    : Math.floor(deps.defaultWatchTimeoutMs / 2) + randomInt(Math.max(1, Math.floor(deps.defaultWatchTimeoutMs / 2)));
  const encode = encoder(st, rendering, q, deps.clock);
  const sendInitialEvents = boolParam(q, 'sendInitialEvents');
  const sink = {
    write: (chunk: string): void => { res.write(chunk); },
    buffered: (): number => res.writableLength,
    end: (): void => { res.end(); },
    destroy: (): void => { res.destroy(); },
  };
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const w = deps.reads.watch(st, sel, {
    resourceVersion: q.get('resourceVersion') ?? '',
    sendInitialEvents,
    spec: {
      encode,
      bookmarks: boolParam(q, 'allowWatchBookmarks') === true,
      timeoutMs,
    },
  }, sink);
  if (w instanceof ApiError) {
    res.end(`${JSON.stringify({ type: 'ERROR', object: w.toStatus() })}\n`);
    return;
  }
  res.on('close', () => { w.detach(); });
}
