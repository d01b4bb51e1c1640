// ObjectMeta rules shared by all resources: what the server sets on create, what an update
// may not change, and ValidateObjectMeta.

import { randomInt, randomUUID } from 'node:crypto';
import { fe, type FieldError } from '../errors.ts';
import { isObject, type JsonObject } from '../json.ts';
import type { ObjectMeta, ResourceDef } from './types.ts';
import { dns1123Label, invalidAll, qualifiedName, validateAnnotations, validateLabels } from './validation.ts';

export function metaOf(obj: JsonObject): ObjectMeta {
  const m = obj['metadata'];
  if (isObject(m)) return m;
  const created: JsonObject = {};
  obj['metadata'] = created;
  return created;
}

/** RFC 3339 with whole seconds, like metav1.Time. */
export function timestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** names.SimpleNameGenerator: base (cut to 58 chars) + 5 random characters. */
export function generateName(base: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET.charAt(randomInt(GENERATE_ALPHABET.length));
  return base.slice(0, 58) + suffix;
}

/** Sets the fields the server owns on create (rest.FillObjectMetaSystemFields and friends). */
export function prepareMetaForCreate(meta: ObjectMeta, nowMs: number, withGeneration: boolean): void {
  meta.uid = randomUUID();
  meta.creationTimestamp = timestamp(nowMs);
  delete meta.resourceVersion;
  delete meta.selfLink;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete meta.managedFields;
  if (withGeneration) meta.generation = 1;
  else delete meta.generation;
}

/** rest.BeforeUpdate: fields an update cannot change are taken from the stored object. */
export function prepareMetaForUpdate(meta: ObjectMeta, old: ObjectMeta): void {
  if (old.generation !== undefined) meta.generation = old.generation;
  else delete meta.generation;
  if (!meta.uid && old.uid) meta.uid = old.uid;
  if (old.creationTimestamp) meta.creationTimestamp = old.creationTimestamp;
  if (old.deletionTimestamp) meta.deletionTimestamp = old.deletionTimestamp;
  else delete meta.deletionTimestamp;
  if (old.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds === undefined) {
    meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
  }
  delete meta.selfLink;
  delete meta.managedFields;
}

export function validateObjectMeta(meta: ObjectMeta, def: ResourceDef, nameErrors: (n: string) => string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta.name) {
    errs.push(fe.required('metadata.name', 'name or generateName is required'));
  } else {
    errs.push(...invalidAll('metadata.name', meta.name, nameErrors(meta.name)));
  }
  if (def.namespaced) {
    if (!meta.namespace) errs.push(fe.required('metadata.namespace'));
    else errs.push(...invalidAll('metadata.namespace', meta.namespace, dns1123Label(meta.namespace)));
  } else if (meta.namespace) {
    errs.push(fe.forbidden('metadata.namespace', 'not allowed on this type'));
  }
  if (meta.labels) errs.push(...validateLabels(meta.labels, 'metadata.labels'));
  if (meta.annotations) errs.push(...validateAnnotations(meta.annotations, 'metadata.annotations'));
  (meta.finalizers ?? []).forEach((f, i) => {
    errs.push(...invalidAll(`metadata.finalizers[${String(i)}]`, f, qualifiedName(f)));
  });
  (meta.ownerReferences ?? []).forEach((r, i) => {
    for (const k of ['apiVersion', 'kind', 'name', 'uid']) {
      const v = r[k];
      if (typeof v !== 'string' || v === '') errs.push(fe.invalid(`metadata.ownerReferences[${String(i)}].${k}`, v ?? '', `${k} must not be empty`));
    }
  });
  if (meta.generation !== undefined && meta.generation < 0) errs.push(fe.invalid('metadata.generation', meta.generation, 'must be greater than or equal to 0'));
  return errs;
}

/** duration.HumanDuration, as kubectl's AGE column shows it. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${String(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${String(minutes)}m` : `${String(minutes)}m${String(s)}s`;
  }
  if (minutes < 180) return `${String(minutes)}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${String(hours)}h` : `${String(hours)}h${String(m)}m`;
  }
  if (hours < 48) return `${String(hours)}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${String(Math.floor(hours / 24))}d` : `${String(Math.floor(hours / 24))}d${String(h)}h`;
  }
  if (hours < 24 * 365 * 2) return `${String(Math.floor(hours / 24))}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${String(Math.floor(hours / 24 / 365))}y` : `${String(Math.floor(hours / 24 / 365))}y${String(dy)}d`;
  }
  return `${String(Math.floor(hours / 24 / 365))}y`;
}

export function age(obj: JsonObject, now: number): string {
  const ts = metaOf(obj).creationTimestamp;
  if (!ts) return '<unknown>';
  return humanDuration(now - Date.parse(ts));
}

export const NAME_COLUMN = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', priority: 0 } as const;
export const AGE_COLUMN = { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata', priority: 0 } as const;
