// Namespace strategy: phase Active, the "kubernetes" finalizer, the automatic
// kubernetes.io/metadata.name label.

import type { JsonObject } from '../json.ts';
import { AGE_COLUMN, NAME_COLUMN, age, metaOf } from './meta.ts';
import { NAMESPACES } from './resources.ts';
import type { Strategy } from './types.ts';
import { dns1123Label, invalidAll, qualifiedName } from './validation.ts';

const NAME_LABEL = 'kubernetes.io/metadata.name';

function phase(o: JsonObject): string {
  const s = o['status'];
  const p = typeof s === 'object' && s !== null && !Array.isArray(s) ? s['phase'] : undefined;
  return typeof p === 'string' ? p : '';
}

function finalizers(o: JsonObject): string[] {
  const s = o['spec'];
  const f = typeof s === 'object' && s !== null && !Array.isArray(s) ? s['finalizers'] : undefined;
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
}

export function namespaceStrategy(): Strategy {
  return {
    def: NAMESPACES,
    fieldSelectors: { 'status.phase': phase },
    returnDeletedObject: true,
    generationFields: undefined,
    statusSubresource: true,
    nameErrors: dns1123Label,
    setDefaults: (o) => {
      const meta = metaOf(o);
      if (meta.name) meta.labels = { ...meta.labels, [NAME_LABEL]: meta.name };
    },
    prepareForCreate: (o) => {
      o['status'] = { phase: 'Active' };
      o['spec'] = { finalizers: ['kubernetes'] };
    },
    prepareForUpdate: (o, old) => {
      o['status'] = structuredClone(old['status'] ?? { phase: 'Active' });
      o['spec'] = { finalizers: finalizers(old) };
    },
    validate: (o) => finalizers(o).flatMap((f, i) => invalidAll(`spec.finalizers[${String(i)}]`, f, qualifiedName(f))),
    validateUpdate: () => [],
    allocate: () => ({ rollback: () => undefined, commit: () => undefined }),
    release: () => undefined,
    restore: () => undefined,
    columns: [NAME_COLUMN, { name: 'Status', type: 'string', format: '', description: 'The status of the namespace', priority: 0 }, AGE_COLUMN],
    row: (o, now) => [metaOf(o).name ?? '', phase(o), age(o, now)],
  };
}
