// The reflector's memory: the identity and resourceVersion of every object delivered, so a
// replayed event is recognised, updates carry (old, new) and a relist can be diffed against what
// the handlers were told. Only that is kept, not the whole object: the handlers keep the model
// they decoded themselves, and a whole copy of 10k Services and their EndpointSlices costs tens
// of MiB (the `old` and deleted objects the handlers get are these slim copies; ours only use
// their names).

import type { KubeObject, ObjectMeta } from '../handlers.ts';
import type { ResourceSpec } from './resources.ts';

export interface StoreSink {
  add(obj: KubeObject): void;
  update(oldObj: KubeObject, obj: KubeObject): void;
  delete(obj: KubeObject): void;
}

export interface ReplaceResult {
  readonly added: number;
  readonly updated: number;
  readonly deleted: number;
  readonly unchanged: number;
}

export function objectKey(meta: ObjectMeta): string {
  return meta.namespace === undefined || meta.namespace === '' ? meta.name : `${meta.namespace}/${meta.name}`;
}

export class ObjectStore {
  private readonly objects = new Map<string, KubeObject>();

  get size(): number {
    return this.objects.size;
  }

  get(key: string): KubeObject | undefined {
    return this.objects.get(key);
  }

  list(): KubeObject[] {
    return [...this.objects.values()];
  }

  /**
   * ADDED / MODIFIED: add when unknown, update when the resourceVersion differs, nothing when it
   * is the same version again (a replayed event).
   */
  upsert(obj: KubeObject, sink: StoreSink): 'added' | 'updated' | 'unchanged' {
    const key = objectKey(obj.metadata);
    const old = this.objects.get(key);
    this.objects.set(key, slim(obj));
    if (old === undefined) {
      sink.add(obj);
      return 'added';
    }
    if (old.metadata.resourceVersion === obj.metadata.resourceVersion) {
      this.objects.set(key, old);
      return 'unchanged';
    }
    sink.update(old, obj);
    return 'updated';
  }

  /** DELETED: the handlers get the last version we knew (like DeletedFinalStateUnknown's obj). */
  remove(obj: KubeObject, sink: StoreSink): boolean {
    const key = objectKey(obj.metadata);
    const old = this.objects.get(key);
    if (old === undefined) return false;
    this.objects.delete(key);
    sink.delete(obj);
    return true;
  }

  /**
   * A fresh list: add what is new, update what changed (resourceVersion differs), delete what
   * vanished, and say nothing about the rest.
   */
  replace(items: readonly KubeObject[], sink: StoreSink): ReplaceResult {
    const r = this.beginReplace(sink);
    for (const obj of items) r.offer(obj);
    return r.finish();
  }

  /**
   * A fresh list delivered item by item as it is read (offer), so the handlers decode each
   * object while the rest of the list is still arriving; finish() deletes what the list did not
   * contain. Meanwhile the handlers see what they would have seen from watch events.
   */
  beginReplace(sink: StoreSink): Replacement {
    const seen = new Set<string>();
    let added = 0;
    let updated = 0;
    let unchanged = 0;
    return {
      offer: (obj) => {
        const key = objectKey(obj.metadata);
        if (seen.has(key)) return;
        seen.add(key);
        const r = this.upsert(obj, sink);
        if (r === 'added') added++;
        else if (r === 'updated') updated++;
        else unchanged++;
      },
      restart: () => {
        seen.clear();
        added = 0;
        updated = 0;
        unchanged = 0;
      },
      finish: () => {
        let deleted = 0;
        for (const [key, old] of [...this.objects]) {
          if (seen.has(key)) continue;
          this.objects.delete(key);
          sink.delete(old);
          deleted++;
        }
        return { added, updated, deleted, unchanged };
      },
    };
  }
}

export interface Replacement {
  /** One object of the list (a repeated name is ignored: the first wins). */
  offer(obj: KubeObject): void;
  /** The list is being read again from its start (a continue token expired). */
  restart(): void;
  /** The list is complete: deletes what it did not contain. */
  finish(): ReplaceResult;
}

/** What the store keeps of an object: kind and identity. */
export function slim(obj: KubeObject): KubeObject {
  const m = obj.metadata;
  const metadata: ObjectMeta = {
    name: m.name, resourceVersion: m.resourceVersion,
    ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
    ...(m.uid === undefined ? {} : { uid: m.uid }),
  };
  return {
    ...(typeof obj['apiVersion'] === 'string' ? { apiVersion: obj['apiVersion'] } : {}),
    ...(typeof obj['kind'] === 'string' ? { kind: obj['kind'] } : {}),
    metadata,
  };
}

export type Validated = { readonly ok: true; readonly obj: KubeObject } | { readonly ok: false; readonly field: string; readonly value: unknown; readonly name: string };

/**
 * The minimum every object must have before it is stored or passed on: metadata.name,
 * metadata.namespace (namespaced kinds), metadata.resourceVersion, string labels. The rest is
 * the model's business (model/decode/).
 */
export function validateObject(raw: unknown, spec: ResourceSpec): Validated {
  if (!isRecord(raw)) return { ok: false, field: 'object', value: raw, name: '' };
  const meta = raw['metadata'];
  if (!isRecord(meta)) return { ok: false, field: 'metadata', value: meta, name: '' };
  const name = meta['name'];
  const namespace = meta['namespace'];
  const displayName = `${typeof namespace === 'string' ? `${namespace}/` : ''}${typeof name === 'string' ? name : '?'}`;
  if (typeof name !== 'string' || name === '') return { ok: false, field: 'metadata.name', value: name, name: displayName };
  const ns = typeof namespace === 'string' && namespace !== '' ? namespace : undefined;
  if (spec.namespaced && ns === undefined) return { ok: false, field: 'metadata.namespace', value: namespace, name: displayName };
  if (!spec.namespaced && namespace !== undefined && namespace !== '') {
    return { ok: false, field: 'metadata.namespace', value: namespace, name: displayName };
  }
  const rv = meta['resourceVersion'];
  if (typeof rv !== 'string' || rv === '') return { ok: false, field: 'metadata.resourceVersion', value: rv, name: displayName };
  const uid = meta['uid'];
  if (uid !== undefined && typeof uid !== 'string') return { ok: false, field: 'metadata.uid', value: uid, name: displayName };
  const rawLabels = meta['labels'];
  let labels: Record<string, string> | undefined;
  if (rawLabels !== undefined && rawLabels !== null) {
    if (!isRecord(rawLabels)) return { ok: false, field: 'metadata.labels', value: rawLabels, name: displayName };
    labels = {};
    for (const [k, v] of Object.entries(rawLabels)) {
      if (typeof v !== 'string') return { ok: false, field: `metadata.labels[${k}]`, value: v, name: displayName };
      labels[k] = v;
    }
  }
  const metadata: ObjectMeta = {
    ...meta,
    name,
    namespace: spec.namespaced ? ns : undefined,
    uid,
    resourceVersion: rv,
    labels,
  };
  return { ok: true, obj: { ...raw, metadata } };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
