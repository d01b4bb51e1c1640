// What the generic registry needs to know about each resource: its identity (for URLs,
// discovery and messages) and its strategy (defaulting, validation, allocation, printing).

import type { Clock } from '../../util/clock.ts';
import type { FieldError, QualifiedResource } from '../errors.ts';
import type { JsonObject } from '../json.ts';

export interface ResourceDef extends QualifiedResource {
  readonly group: string;
  readonly version: string;
  /** Plural, as in URLs: "services". */
  readonly resource: string;
  readonly kind: string;
  readonly listKind: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  /** Schema (OpenAPI component) name of the kind. */
  readonly schema: string;
  readonly subresources: readonly string[];
  /** "v1" or "group/version". */
  readonly apiVersion: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  selfLink?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: JsonObject[];
  finalizers?: string[];
  managedFields?: JsonObject[];
}

/** A decoded API object: metadata typed, the rest as JSON. */
export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface TableColumn {
  readonly name: string;
  readonly type: string;
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

/** Allocation done for one write: undone when the write fails, finished when it commits. */
export interface AllocationTx {
  rollback(): void;
  /** Releases what the previous version held and the new one no longer does. */
  commit(): void;
}

export const NO_ALLOCATION: AllocationTx = { rollback: () => undefined, commit: () => undefined };

export interface StrategyContext {
  readonly clock: Clock;
}

export interface Strategy {
  readonly def: ResourceDef;
  /** Field selector fields beyond metadata.name / metadata.namespace. */
  readonly fieldSelectors: Readonly<Record<string, (obj: JsonObject) => string | undefined>>;
  /** DELETE answers with the deleted object (true) or a Success Status (false). */
  readonly returnDeletedObject: boolean;
  /** Top-level fields whose change bumps metadata.generation; undefined: no generation. */
  readonly generationFields: readonly string[] | undefined;
  /** Whether `status` is only writable through the status subresource. */
  readonly statusSubresource: boolean;
  readonly nameErrors: (name: string) => string[];
  /** SetDefaults_<Kind>: applied to every decoded write. */
  readonly setDefaults: (obj: JsonObject) => void;
  readonly prepareForCreate: (obj: JsonObject) => void;
  readonly prepareForUpdate: (obj: JsonObject, old: JsonObject) => void;
  readonly validate: (obj: JsonObject) => FieldError[];
  readonly validateUpdate: (obj: JsonObject, old: JsonObject) => FieldError[];
  /** Allocates what the object needs; throws ApiError (422) when it cannot. */
  readonly allocate: (obj: JsonObject, old: JsonObject | undefined) => AllocationTx;
  /** Releases what a deleted object held. */
  readonly release: (obj: JsonObject) => void;
  /** Rebuilds allocator state from a stored object at startup. */
  readonly restore: (obj: JsonObject) => void;
  readonly columns: readonly TableColumn[];
  readonly row: (obj: JsonObject, now: number) => (string | number)[];
}
