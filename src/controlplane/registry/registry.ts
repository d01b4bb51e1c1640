// The generic registry: create, update, patch and delete for every resource, in the order
// kube-apiserver applies its steps (decode + defaults, admission, validation, allocation,
// storage). Everything from reading the latest state to queueing the write is synchronous, so
// concurrent requests cannot interleave; the response waits for the write to be durable.

import type { Logger } from '../../util/logger.ts';
import type { Clock } from '../../util/clock.ts';
import {
  ApiError, alreadyExists, badRequest, conflict, fe, forbidden, internalError, invalid, notFound, STALE_OBJECT,
} from '../errors.ts';
import { deepEqual, isObject, type Json, type JsonObject } from '../json.ts';
import { applyJsonPatch, PatchError } from '../patch/json-patch.ts';
import { applyMergePatch } from '../patch/merge-patch.ts';
import { applyStrategicMergePatch } from '../patch/strategic.ts';
import { objectKey, type Store, type StoredObject } from '../storage/store.ts';
import { decodeBody, type FieldValidation } from './decode-body.ts';
import { generateName, metaOf, prepareMetaForCreate, prepareMetaForUpdate, timestamp, validateObjectMeta } from './meta.ts';
import { NAMESPACES, SYSTEM_NAMESPACES } from './resources.ts';
import { NO_ALLOCATION, type Strategy } from './types.ts';

export interface WriteOptions {
  readonly dryRun: boolean;
  readonly fieldValidation: FieldValidation;
}

export interface WriteResult {
  /** The object as stored (or as it would be, for dry runs). */
  readonly obj: JsonObject;
  readonly json: string;
  readonly warnings: readonly string[];
}

export interface DeleteOptions {
  readonly dryRun: boolean;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

function fromStored(o: StoredObject, warnings: readonly string[]): WriteResult {
  return { obj: o.obj, json: o.json, warnings };
}

function fromObject(obj: JsonObject, warnings: readonly string[]): WriteResult {
  return { obj, json: JSON.stringify(obj), warnings };
}

/** Deep equality ignoring metadata.resourceVersion. */
function sameObject(a: JsonObject, b: JsonObject): boolean {
  const strip = (o: JsonObject): JsonObject => {
    const m = o['metadata'];
    if (!isObject(m)) return o;
    const copy = { ...m };
    delete copy['resourceVersion'];
    return { ...o, metadata: copy };
  };
  return deepEqual(strip(a), strip(b));
}

export class Registry {
  readonly store: Store;
  private readonly strategies = new Map<string, Strategy>();
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(store: Store, strategies: readonly Strategy[], clock: Clock, logger: Logger) {
    this.store = store;
    for (const s of strategies) this.strategies.set(s.def.resource, s);
    this.clock = clock;
    this.logger = logger;
  }

  strategy(resource: string): Strategy | undefined {
    return this.strategies.get(resource);
  }

  allStrategies(): Strategy[] {
    return [...this.strategies.values()];
  }

  private must(resource: string): Strategy {
    const s = this.strategies.get(resource);
    if (!s) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    return s;
  }

  /** Startup: rebuild allocator state from stored objects and create the system namespaces. */
  async init(): Promise<void> {
    for (const st of this.strategies.values()) {
      const idx = this.store.index(st.def.resource);
      for (const o of idx.byKey.values()) st.restore(o.obj);
      if (idx.size > 0) this.logger.debug({ resource: st.def.resource, objects: idx.size }, 'registry: restored');
    }
    const pending: Promise<WriteResult>[] = [];
    for (const ns of SYSTEM_NAMESPACES) {
      if (!this.store.getLatest(NAMESPACES.resource, ns)) {
        pending.push(this.create(NAMESPACES.resource, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { dryRun: false, fieldValidation: 'Strict' }));
      }
    }
    await Promise.all(pending);
  }

  private async persist(p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (err) {
      throw internalError(err instanceof Error ? err.message : String(err));
    }
  }

  async create(resource: string, namespace: string, body: Json, opts: WriteOptions): Promise<WriteResult> {
    const st = this.must(resource);
    const def = st.def;
    const warnings: string[] = [];
    const obj = decodeBody(def, body, opts.fieldValidation, warnings);
    const meta = metaOf(obj);
    if (def.namespaced) {
      if (meta.namespace && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
    if (!meta.name && meta.generateName) meta.name = generateName(meta.generateName);
    prepareMetaForCreate(meta, this.clock.now(), st.generationFields !== undefined);
    st.setDefaults(obj);
    st.prepareForCreate(obj);
    if (def.namespaced && !this.store.getLatest(NAMESPACES.resource, namespace)) throw notFound(NAMESPACES, namespace);
    const errs = [...validateObjectMeta(meta, def, st.nameErrors), ...st.validate(obj)];
    const name = meta.name ?? '';
    if (errs.length) throw invalid(def, name, errs);
    const ns = def.namespaced ? namespace : '';
    if (this.store.getLatest(resource, objectKey(ns, name))) throw alreadyExists(def, name);
    const tx = st.allocate(obj, undefined);
    if (opts.dryRun) {
      tx.rollback();
      return fromObject(obj, warnings);
    }
    let w;
    try {
      w = this.store.put(resource, ns, name, obj);
    } catch (err) {
      tx.rollback();
      throw internalError(err instanceof Error ? err.message : String(err));
    }
    tx.commit();
    await this.persist(w.committed);
    return fromStored(w.object, warnings);
  }

  async update(resource: string, namespace: string, name: string, body: Json, opts: WriteOptions, subresource?: string): Promise<WriteResult> {
    const st = this.must(resource);
    const warnings: string[] = [];
    const obj = decodeBody(st.def, body, opts.fieldValidation, warnings);
    const meta = metaOf(obj);
    if (meta.name && meta.name !== name) throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    meta.name = name;
    if (st.def.namespaced) {
      if (meta.namespace && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
    return this.applyUpdate(st, namespace, name, obj, opts, warnings, subresource);
  }

  async patch(resource: string, namespace: string, name: string, patchType: PatchType, patch: Json, opts: WriteOptions, subresource?: string): Promise<WriteResult> {
    const st = this.must(resource);
    const ns = st.def.namespaced ? namespace : '';
    const old = this.store.getLatest(resource, objectKey(ns, name));
    if (!old) throw notFound(st.def, name);
    let patched: Json;
    try {
      switch (patchType) {
        case 'application/merge-patch+json': patched = applyMergePatch(old.obj, patch); break;
        case 'application/json-patch+json': patched = applyJsonPatch(old.obj, patch); break;
        case 'application/strategic-merge-patch+json': patched = applyStrategicMergePatch(old.obj, patch, st.def.schema); break;
      }
    } catch (err) {
      if (err instanceof PatchError) throw new ApiError(422, 'Invalid', err.message, { causes: [{ reason: 'FieldValueInvalid', message: err.message, field: 'patch' }] });
      throw err;
    }
    const warnings: string[] = [];
    const obj = decodeBody(st.def, patched, opts.fieldValidation, warnings);
    const meta = metaOf(obj);
    if (meta.name !== name) throw invalid(st.def, name, [fe.invalid('metadata.name', meta.name ?? '', 'field is immutable')]);
    if (st.def.namespaced && meta.namespace !== namespace) throw invalid(st.def, name, [fe.invalid('metadata.namespace', meta.namespace ?? '', 'field is immutable')]);
    return this.applyUpdate(st, namespace, name, obj, opts, warnings, subresource);
  }

  private async applyUpdate(st: Strategy, namespace: string, name: string, obj: JsonObject, opts: WriteOptions, warnings: string[], subresource: string | undefined): Promise<WriteResult> {
    const def = st.def;
    const ns = def.namespaced ? namespace : '';
    const old = this.store.getLatest(def.resource, objectKey(ns, name));
    if (!old) throw notFound(def, name);
    const meta = metaOf(obj);
    const oldMeta = metaOf(old.obj);
    if (meta.resourceVersion && meta.resourceVersion !== String(old.rv)) throw conflict(def, name, STALE_OBJECT);
    if (meta.uid && meta.uid !== oldMeta.uid) throw conflict(def, name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${oldMeta.uid ?? ''}`);
    let next: JsonObject;
    if (subresource === 'status') {
      next = structuredClone(old.obj);
      if (obj['status'] === undefined) delete next['status'];
      else next['status'] = obj['status'];
      st.setDefaults(next);
    } else {
      next = obj;
      prepareMetaForUpdate(meta, oldMeta);
      st.setDefaults(next);
      st.prepareForUpdate(next, old.obj);
    }
    const nextMeta = metaOf(next);
    const errs = [...validateObjectMeta(nextMeta, def, st.nameErrors), ...st.validate(next), ...st.validateUpdate(next, old.obj)];
    if (oldMeta.deletionTimestamp) {
      const had = new Set(oldMeta.finalizers ?? []);
      for (const f of nextMeta.finalizers ?? []) {
        if (!had.has(f)) errs.push(fe.forbidden('metadata.finalizers', `no new finalizers can be added if the object is being deleted, found new finalizers []string{${JSON.stringify(f)}}`));
      }
    }
    if (errs.length) throw invalid(def, name, errs);
    // Finalizers removed from an object being deleted: it goes away now.
    if (oldMeta.deletionTimestamp && (nextMeta.finalizers ?? []).length === 0) {
      if (opts.dryRun) return fromObject(next, warnings);
      st.release(old.obj);
      const w = this.store.delete(def.resource, ns, name);
      await this.persist(w.committed);
      return fromStored(w.object, warnings);
    }
    // Allocation also fills in defaulted allocation fields (ipFamilies...), so it comes before
    // the generation and no-op checks.
    const tx = subresource === 'status' ? NO_ALLOCATION : st.allocate(next, old.obj);
    if (st.generationFields && subresource !== 'status' && st.generationFields.some((f) => !deepEqual(next[f], old.obj[f]))) {
      nextMeta.generation = (oldMeta.generation ?? 0) + 1;
    }
    delete nextMeta.resourceVersion;
    if (sameObject(next, old.obj)) {
      tx.rollback();
      return fromStored(old, warnings);
    }
    if (opts.dryRun) {
      tx.rollback();
      nextMeta.resourceVersion = String(old.rv);
      return fromObject(next, warnings);
    }
    let w;
    try {
      w = this.store.put(def.resource, ns, name, next);
    } catch (err) {
      tx.rollback();
      throw internalError(err instanceof Error ? err.message : String(err));
    }
    tx.commit();
    await this.persist(w.committed);
    return fromStored(w.object, warnings);
  }

  async delete(resource: string, namespace: string, name: string, opts: DeleteOptions): Promise<WriteResult> {
    const st = this.must(resource);
    const def = st.def;
    const ns = def.namespaced ? namespace : '';
    const old = this.store.getLatest(resource, objectKey(ns, name));
    if (!old) throw notFound(def, name);
    const oldMeta = metaOf(old.obj);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== oldMeta.uid) throw conflict(def, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${oldMeta.uid ?? ''}`);
    if (pre?.resourceVersion && pre.resourceVersion !== String(old.rv)) {
      throw conflict(def, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(old.rv)}`);
    }
    const commits: Promise<void>[] = [];
    if (resource === NAMESPACES.resource) {
      if (SYSTEM_NAMESPACES.includes(name)) throw forbidden(def, name, 'this namespace may not be deleted');
      if (!opts.dryRun) {
        // No namespace controller here: the contents go right away, then the namespace.
        for (const other of this.strategies.values()) {
          if (!other.def.namespaced) continue;
          for (const o of this.store.latestObjects(other.def.resource, name)) {
            other.release(o.obj);
            commits.push(this.store.delete(other.def.resource, name, o.name).committed);
          }
        }
      }
    } else if ((oldMeta.finalizers ?? []).length > 0) {
      // Finalizers pending: mark for deletion; whoever owns the finalizer removes it.
      if (oldMeta.deletionTimestamp || opts.dryRun) return fromStored(old, []);
      const next = structuredClone(old.obj);
      const m = metaOf(next);
      m.deletionTimestamp = timestamp(this.clock.now());
      m.deletionGracePeriodSeconds = 0;
      const w = this.store.put(resource, ns, name, next);
      await this.persist(w.committed);
      return fromStored(w.object, []);
    }
    if (opts.dryRun) return this.deleteResult(st, old);
    st.release(old.obj);
    const w = this.store.delete(resource, ns, name);
    commits.push(w.committed);
    await this.persist(Promise.all(commits).then(() => undefined));
    return this.deleteResult(st, w.object);
  }

  private deleteResult(st: Strategy, o: StoredObject): WriteResult {
    if (st.returnDeletedObject) return fromStored(o, []);
    const details: JsonObject = { name: o.name };
    if (st.def.group) details['group'] = st.def.group;
    details['kind'] = st.def.resource;
    const uid = metaOf(o.obj).uid;
    if (uid) details['uid'] = uid;
    return fromObject({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details }, []);
  }

  /** Deletes every latest object of the resource in `namespace` (all when undefined) that `matches`. */
  async deleteCollection(resource: string, namespace: string | undefined, matches: (o: StoredObject) => boolean, opts: DeleteOptions): Promise<WriteResult> {
    const st = this.must(resource);
    const victims = this.store.latestObjects(resource, namespace).filter(matches).sort((a, b) => (a.key < b.key ? -1 : 1));
    const results = await Promise.all(victims.map((v) => this.delete(resource, v.namespace, v.name, opts).catch((err: unknown) => {
      if (err instanceof ApiError && err.httpStatus === 404) return undefined;
      throw err;
    })));
    const items = results.filter((r): r is WriteResult => r !== undefined).map((r) => r.obj);
    return fromObject({ kind: st.def.listKind, apiVersion: st.def.apiVersion, metadata: {}, items }, []);
  }
}
