// The request pipeline: authentication (bearer token), injected faults, routing, and the
// non-resource endpoints (discovery, OpenAPI, version, health).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../util/logger.ts';
import { ApiError, badRequest, internalError, methodNotAllowed, pathNotFound, unauthorized } from '../errors.ts';
import type { Faults } from '../faults.ts';
import type { ResourceDef } from '../registry/types.ts';
import { SelectorError } from '../selectors/labels.ts';
import { aggregatedContentType, aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from './discovery.ts';
import { wantsAggregatedDiscovery } from './negotiate.ts';
import { OPENAPI_V2_PROTOBUF, type OpenAPIDocs } from './openapi.ts';
import { handleResource, type ResourceDeps } from './resources.ts';
import { sendError, sendJson, sendText } from './respond.ts';
import { route } from './router.ts';

export interface ServerDeps extends ResourceDeps {
  readonly defs: readonly ResourceDef[];
  readonly token: string;
  readonly faults: Faults;
  readonly openapi: OpenAPIDocs;
  readonly logger: Logger;
  /** host:port clients use (for /api serverAddressByClientCIDRs). */
  readonly serverAddress: () => string;
  /** Counts requests (tests and metrics). */
  readonly stats: { requests: number };
}

function authorized(req: IncomingMessage, token: Buffer): boolean {
  const h = req.headers.authorization;
  if (!h?.startsWith('Bearer ')) return false;
  const given = Buffer.from(h.slice(7).trim());
  return given.length === token.length && timingSafeEqual(given, token);
}

function toApiError(err: unknown, logger: Logger): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof SelectorError) return badRequest(err.message);
  logger.error({ err }, 'control plane: request failed');
  return internalError(err instanceof Error ? err.message : String(err));
}

export function createRequestHandler(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const token = Buffer.from(deps.token);
  const debug = deps.logger.isLevelEnabled('debug');
  return (req, res) => {
    const started = debug ? performance.now() : 0;
    deps.stats.requests++;
    if (debug) {
      res.on('finish', () => {
        deps.logger.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Math.round(performance.now() - started) }, 'control plane: request');
      });
    }
    void handle(deps, token, req, res).catch((err: unknown) => {
      const e = toApiError(err, deps.logger);
      if (res.headersSent) res.destroy();
      else sendError(res, e);
      req.resume();
    });
  };
}

async function handle(deps: ServerDeps, token: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!authorized(req, token)) throw unauthorized();
  const url = new URL(req.url ?? '/', 'https://localhost');
  const method = req.method ?? 'GET';
  const fault = deps.faults.take(method, url.pathname);
  if (fault) throw fault;
  const r = route(url.pathname, deps.defs);
  if (r.kind === 'resource') {
    await handleResource(deps, req, res, r, url);
    return;
  }
  if (r.kind === 'not-found') throw pathNotFound();
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed();
  const accept = req.headers.accept;
  switch (r.kind) {
    case 'root':
      sendJson(res, 200, JSON.stringify({ paths: ['/api', '/api/v1', '/apis', '/apis/discovery.k8s.io', '/apis/discovery.k8s.io/v1', '/healthz', '/livez', '/openapi/v2', '/openapi/v3', '/readyz', '/version'] }));
      return;
    case 'version':
      sendJson(res, 200, JSON.stringify(versionInfo()));
      return;
    case 'health':
      if (url.searchParams.has('verbose')) sendText(res, 200, `[+]ping ok\n[+]log ok\n[+]etcd ok\n${r.check ? '' : `${url.pathname.slice(1)} check passed\n`}`);
      else sendText(res, 200, 'ok');
      return;
    case 'api-versions':
    case 'api-groups': {
      const core = r.kind === 'api-versions';
      const agg = wantsAggregatedDiscovery(accept);
      if (agg) {
        sendJson(res, 200, aggregatedDiscovery(deps.defs, core, agg), { 'Content-Type': aggregatedContentType(agg), Vary: 'Accept' });
      } else {
        sendJson(res, 200, core ? apiVersions(deps.serverAddress()) : apiGroupList(deps.defs), { Vary: 'Accept' });
      }
      return;
    }
    case 'api-group':
      sendJson(res, 200, apiGroup(deps.defs, r.group));
      return;
    case 'resource-list':
      sendJson(res, 200, apiResourceList(deps.defs, r.group, r.version));
      return;
    case 'openapi-v2':
      if ((accept ?? '').includes('protobuf')) {
        // No models: kubectl then leaves validation to the server (fieldValidation=Strict).
        res.writeHead(200, { 'Content-Type': OPENAPI_V2_PROTOBUF, 'Content-Length': 0 });
        res.end();
      } else {
        sendJson(res, 200, deps.openapi.v2json);
      }
      return;
    case 'openapi-v3-index':
      sendJson(res, 200, deps.openapi.index);
      return;
    case 'openapi-v3': {
      const doc = deps.openapi.docs.get(r.gv);
      if (!doc) throw pathNotFound();
      const immutable = url.searchParams.get('hash') === doc.hash;
      sendJson(res, 200, doc.json, { ETag: `"${doc.hash}"`, 'Cache-Control': immutable ? 'public, immutable' : 'no-cache, private' });
      return;
    }
  }
}
