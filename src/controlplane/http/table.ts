// Server-side printing: meta.k8s.io Table and PartialObjectMetadata renderings.

import { isObject, type JsonObject } from '../json.ts';
import type { Strategy } from '../registry/types.ts';
import type { StoredObject } from '../storage/store.ts';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function parseIncludeObject(v: string | null): IncludeObject {
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function partial(o: StoredObject, apiVersion: string): string {
  const meta = o.obj['metadata'];
  return JSON.stringify({ kind: 'PartialObjectMetadata', apiVersion, metadata: isObject(meta) ? meta : {} });
}

function row(st: Strategy, o: StoredObject, include: IncludeObject, apiVersion: string, now: number): string {
  const cells = JSON.stringify(st.row(o.obj, now));
  if (include === 'None') return `{"cells":${cells}}`;
  const obj = include === 'Object' ? o.json : partial(o, apiVersion);
  return `{"cells":${cells},"object":${obj}}`;
}

export interface TableMeta {
  readonly resourceVersion: string;
  readonly continueToken?: string | undefined;
  readonly remainingItemCount?: number | undefined;
}

export function tableJson(st: Strategy, objs: readonly StoredObject[], meta: TableMeta, include: IncludeObject, apiVersion: string, now: number, noHeaders = false): string {
  const m: JsonObject = { resourceVersion: meta.resourceVersion };
  if (meta.continueToken) m['continue'] = meta.continueToken;
  if (meta.remainingItemCount !== undefined) m['remainingItemCount'] = meta.remainingItemCount;
  const cols = noHeaders ? '[]' : JSON.stringify(st.columns);
  const rows = objs.map((o) => row(st, o, include, apiVersion, now)).join(',');
  return `{"kind":"Table","apiVersion":"${apiVersion}","metadata":${JSON.stringify(m)},"columnDefinitions":${cols},"rows":[${rows}]}`;
}

export function partialJson(o: StoredObject, apiVersion: string): string {
  return partial(o, apiVersion);
}

export function partialListJson(objs: readonly StoredObject[], meta: TableMeta, apiVersion: string): string {
  const m: JsonObject = { resourceVersion: meta.resourceVersion };
  if (meta.continueToken) m['continue'] = meta.continueToken;
  return `{"kind":"PartialObjectMetadataList","apiVersion":"${apiVersion}","metadata":${JSON.stringify(m)},"items":[${objs.map((o) => partial(o, apiVersion)).join(',')}]}`;
}
