// OpenAPI published for clients. kubectl reads /openapi/v3 to learn that PATCH accepts
// strategic merge patches and the fieldValidation parameter (so it validates server-side) and
// takes the patch merge keys from the schemas; it also insists on downloading /openapi/v2 as
// protobuf for its client-side validator, for which an empty document (no models: nothing to
// check client-side) is enough. JSON v2 is served to clients that ask for JSON.

import { createHash } from 'node:crypto';
import type { ResourceDef } from '../registry/types.ts';
import { SCHEMAS, type FieldSchema } from '../registry/schema.ts';
import { SERVER_VERSION } from './discovery.ts';

type Obj = Record<string, unknown>;

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';

function fieldSchema(f: FieldSchema, refPrefix: string): Obj {
  switch (f.type) {
    case 'string': return { type: 'string' };
    case 'int32': return { type: 'integer', format: 'int32' };
    case 'int64': return { type: 'integer', format: 'int64' };
    case 'boolean': return { type: 'boolean' };
    case 'time': return { type: 'string', format: 'date-time' };
    case 'intOrString': return { type: 'string', format: 'int-or-string', 'x-kubernetes-int-or-string': true };
    case 'quantity': return { type: 'string', format: 'quantity', 'x-kubernetes-int-or-string': true };
    case 'any': return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    case 'map': {
      const m: Obj = { type: 'object', additionalProperties: fieldSchema(f.values, refPrefix) };
      if (f.atomic) m['x-kubernetes-map-type'] = 'atomic';
      return m;
    }
    case 'list': {
      const l: Obj = { type: 'array', items: fieldSchema(f.items, refPrefix), 'x-kubernetes-list-type': f.listType };
      if (f.listMapKeys) l['x-kubernetes-list-map-keys'] = f.listMapKeys;
      if (f.patchStrategy) l['x-kubernetes-patch-strategy'] = f.patchStrategy;
      if (f.patchMergeKey) l['x-kubernetes-patch-merge-key'] = f.patchMergeKey;
      return l;
    }
    case 'ref': return { $ref: `${refPrefix}${f.ref}` };
  }
}

function componentSchemas(refPrefix: string, defs: readonly ResourceDef[]): Obj {
  const out: Obj = {};
  for (const d of SCHEMAS.values()) {
    const properties: Obj = {};
    for (const [k, f] of Object.entries(d.fields)) properties[k] = fieldSchema(f, refPrefix);
    const s: Obj = { type: 'object', properties };
    if (d.required?.length) s['required'] = d.required;
    if (d.gvk) s['x-kubernetes-group-version-kind'] = [d.gvk];
    out[d.name] = s;
  }
  for (const r of defs) {
    out[`${r.schema}List`] = {
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: { type: 'string' }, kind: { type: 'string' },
        metadata: { $ref: `${refPrefix}${META}ListMeta` },
        items: { type: 'array', items: { $ref: `${refPrefix}${r.schema}` } },
      },
      'x-kubernetes-group-version-kind': [{ group: r.group, version: r.version, kind: r.listKind }],
    };
  }
  out[`${META}ListMeta`] = { type: 'object', properties: { continue: { type: 'string' }, remainingItemCount: { type: 'integer', format: 'int64' }, resourceVersion: { type: 'string' }, selfLink: { type: 'string' } } };
  out[`${META}Patch`] = { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' };
  out[`${META}Status`] = {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' }, kind: { type: 'string' }, code: { type: 'integer', format: 'int32' },
      details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, message: { type: 'string' },
      metadata: { $ref: `${refPrefix}${META}ListMeta` }, reason: { type: 'string' }, status: { type: 'string' },
    },
    'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
  };
  out[`${META}DeleteOptions`] = {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' }, kind: { type: 'string' }, dryRun: { type: 'array', items: { type: 'string' } },
      gracePeriodSeconds: { type: 'integer', format: 'int64' }, propagationPolicy: { type: 'string' },
      preconditions: { type: 'object', properties: { resourceVersion: { type: 'string' }, uid: { type: 'string' } } },
    },
  };
  return out;
}

const q = (name: string, type = 'string'): Obj => ({ name, in: 'query', schema: { type, uniqueItems: true } });
const LIST_PARAMS = [q('allowWatchBookmarks', 'boolean'), q('continue'), q('fieldSelector'), q('labelSelector'), q('limit', 'integer'), q('resourceVersion'), q('resourceVersionMatch'), q('sendInitialEvents', 'boolean'), q('timeoutSeconds', 'integer'), q('watch', 'boolean')];
const WRITE_PARAMS = [q('dryRun'), q('fieldManager'), q('fieldValidation')];
const PATH_NAME: Obj = { name: 'name', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } };
const PATH_NS: Obj = { name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } };
const PRETTY = q('pretty');

function paths(defs: readonly ResourceDef[]): Obj {
  const out: Obj = {};
  const ref = (name: string): Obj => ({ $ref: `#/components/schemas/${name}` });
  const ok = (schema: Obj): Obj => ({ '200': { description: 'OK', content: { 'application/json': { schema } } }, '401': { description: 'Unauthorized' } });
  for (const d of defs) {
    const gvk = { group: d.group, version: d.version, kind: d.kind };
    const prefix = d.group ? `/apis/${d.group}/${d.version}` : `/api/${d.version}`;
    const coll = d.namespaced ? `${prefix}/namespaces/{namespace}/${d.resource}` : `${prefix}/${d.resource}`;
    const nsParams = d.namespaced ? [PATH_NS, PRETTY] : [PRETTY];
    const body = (schema: Obj, types: readonly string[]): Obj => ({ required: true, content: Object.fromEntries(types.map((t) => [t, { schema }])) });
    const op = (action: string, extra: Obj): Obj => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, ...extra });
    out[coll] = {
      parameters: nsParams,
      get: op('list', { operationId: `list${d.kind}`, parameters: LIST_PARAMS, responses: ok(ref(`${d.schema}List`)) }),
      post: op('post', { operationId: `create${d.kind}`, parameters: WRITE_PARAMS, requestBody: body(ref(d.schema), ['*/*']), responses: ok(ref(d.schema)) }),
      delete: op('deletecollection', { operationId: `deleteCollection${d.kind}`, parameters: [...LIST_PARAMS, q('dryRun')], responses: ok(ref(`${META}Status`)) }),
    };
    const item = {
      get: op('get', { operationId: `read${d.kind}`, responses: ok(ref(d.schema)) }),
      put: op('put', { operationId: `replace${d.kind}`, parameters: WRITE_PARAMS, requestBody: body(ref(d.schema), ['*/*']), responses: ok(ref(d.schema)) }),
      patch: op('patch', {
        operationId: `patch${d.kind}`,
        parameters: [...WRITE_PARAMS, q('force', 'boolean')],
        requestBody: body(ref(`${META}Patch`), ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']),
        responses: ok(ref(d.schema)),
      }),
      delete: op('delete', { operationId: `delete${d.kind}`, parameters: [q('dryRun'), q('gracePeriodSeconds', 'integer'), q('propagationPolicy')], requestBody: body(ref(`${META}DeleteOptions`), ['*/*']), responses: ok(ref(`${META}Status`)) }),
    };
    out[`${coll}/{name}`] = { parameters: [PATH_NAME, ...nsParams], ...item };
    for (const s of d.subresources) {
      out[`${coll}/{name}/${s}`] = { parameters: [PATH_NAME, ...nsParams], get: item.get, put: item.put, patch: item.patch };
    }
    if (d.namespaced) {
      out[`${prefix}/${d.resource}`] = { parameters: [PRETTY], get: op('list', { operationId: `list${d.kind}ForAllNamespaces`, parameters: LIST_PARAMS, responses: ok(ref(`${d.schema}List`)) }) };
    }
  }
  return out;
}

export interface OpenAPIDocs {
  /** /openapi/v3 index. */
  readonly index: string;
  /** Group-version path ("api/v1") → document and its hash. */
  readonly docs: ReadonlyMap<string, { readonly json: string; readonly hash: string }>;
  readonly v2json: string;
}

export function buildOpenAPI(defs: readonly ResourceDef[]): OpenAPIDocs {
  const docs = new Map<string, { json: string; hash: string }>();
  const gvs = [...new Set(defs.map((d) => (d.group ? `apis/${d.group}/${d.version}` : `api/${d.version}`)))];
  for (const gv of gvs) {
    const inGV = defs.filter((d) => (d.group ? `apis/${d.group}/${d.version}` : `api/${d.version}`) === gv);
    const json = JSON.stringify({
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
      paths: paths(inGV),
      components: { schemas: componentSchemas('#/components/schemas/', defs) },
    });
    docs.set(gv, { json, hash: createHash('sha512').update(json).digest('hex').toUpperCase() });
  }
  const index = JSON.stringify({ paths: Object.fromEntries([...docs].map(([gv, d]) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=${d.hash}` }])) });
  const v2json = JSON.stringify({
    swagger: '2.0',
    info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
    paths: {},
    definitions: componentSchemas('#/definitions/', defs),
  });
  return { index, docs, v2json };
}

/** Content type kube-apiserver uses for the protobuf OpenAPI v2 document. */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
