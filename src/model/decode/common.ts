// Shared pieces of the API decoders: type guards for `unknown` JSON, and the one log line that
// names what was skipped.
//
// Skipping policy (all decoders): a field we cannot use skips the smallest unit that still
// makes sense on its own —
//   * an entry of a list (a Service port, an external IP, an LB ingress, an EndpointSlice
//     endpoint or port) is dropped alone, the rest of the object is used;
//   * anything else (metadata, spec scalars such as type, clusterIP, traffic policies,
//     session affinity, a list field that is not a list, loadBalancerSourceRanges as a whole
//     because dropping one range would widen a firewall) skips the whole object, which the
//     model then treats as absent (so an update that breaks an object removes it).
// Each skip is exactly one warn line naming kind, namespace/name, field path and value.
// Objects skipped on purpose (headless, ExternalName, other proxy's label, FQDN slices) are
// logged at debug only.

import type { Logger } from '../../util/logger.ts';

export type Json = Readonly<Record<string, unknown>>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Renders a value for a log line: JSON, truncated so a huge field cannot flood the log. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  let text: string;
  try {
    // JSON.stringify gives undefined for functions and symbols, whatever its typing says.
    const json = JSON.stringify(v) as string | undefined;
    text = json ?? typeof v;
  } catch {
    text = typeof v; // cycles, BigInt
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Identity of the object being decoded, for log lines. */
export interface ObjectRef {
  readonly kind: string;
  /** "namespace/name", "name" for cluster-scoped objects, "<unknown>" when metadata is broken. */
  readonly object: string;
}

export function refOf(kind: string, obj: unknown): ObjectRef {
  const meta = isRecord(obj) ? obj['metadata'] : undefined;
  const name = isRecord(meta) && typeof meta['name'] === 'string' ? meta['name'] : '<unknown>';
  const ns = isRecord(meta) && typeof meta['namespace'] === 'string' && meta['namespace'] !== '' ? meta['namespace'] : undefined;
  return { kind, object: ns === undefined ? name : `${ns}/${name}` };
}

/**
 * Logs one line for unusable input. `what` says what was dropped ("port skipped",
 * "Service skipped"); the message repeats every field so plain-text logs read on their own.
 */
export function logInvalid(logger: Logger, ref: ObjectRef, field: string, value: unknown, problem: string, what: string): void {
  const shown = showValue(value);
  logger.warn(
    { kind: ref.kind, object: ref.object, field, value: shown },
    `${ref.kind} ${ref.object}: ${field}: ${shown} ${problem}; ${what}`,
  );
}

/** Logs (debug) an object deliberately not proxied. */
export function logIgnored(logger: Logger, ref: ObjectRef, reason: string): void {
  logger.debug({ kind: ref.kind, object: ref.object }, `${ref.kind} ${ref.object}: ${reason}; ignored`);
}

/** Thrown inside a decoder to abandon the whole object; caught by the decoder's entry point. */
export class SkipObject extends Error {
  readonly code = 'KPT_MODEL_SKIP_OBJECT';
}

export interface Metadata {
  readonly name: string;
  readonly namespace: string;
  readonly labels: ReadonlyMap<string, string>;
  /** The raw metadata, for decoders that read one annotation (and judge it themselves). */
  readonly raw: Json;
}

function stringMap(logger: Logger, ref: ObjectRef, field: string, v: unknown): ReadonlyMap<string, string> {
  if (v === undefined || v === null) return new Map();
  if (!isRecord(v)) {
    logInvalid(logger, ref, field, v, 'is not a map of strings', `${ref.kind} skipped`);
    throw new SkipObject();
  }
  const out = new Map<string, string>();
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') {
      logInvalid(logger, ref, `${field}[${JSON.stringify(k)}]`, val, 'is not a string', `${ref.kind} skipped`);
      throw new SkipObject();
    }
    out.set(k, val);
  }
  return out;
}

/** Checks metadata; `namespaced` requires a namespace. Throws SkipObject after logging. */
export function decodeMetadata(logger: Logger, ref: ObjectRef, obj: unknown, namespaced: boolean): Metadata {
  if (!isRecord(obj)) {
    logInvalid(logger, ref, '(object)', obj, 'is not an object', `${ref.kind} skipped`);
    throw new SkipObject();
  }
  const meta = obj['metadata'];
  if (!isRecord(meta)) {
    logInvalid(logger, ref, 'metadata', meta, 'is not an object', `${ref.kind} skipped`);
    throw new SkipObject();
  }
  const name = meta['name'];
  if (typeof name !== 'string' || name === '') {
    logInvalid(logger, ref, 'metadata.name', name, 'is not a non-empty string', `${ref.kind} skipped`);
    throw new SkipObject();
  }
  const namespace = meta['namespace'];
  if (namespaced && (typeof namespace !== 'string' || namespace === '')) {
    logInvalid(logger, ref, 'metadata.namespace', namespace, 'is not a non-empty string', `${ref.kind} skipped`);
    throw new SkipObject();
  }
  return {
    name,
    namespace: typeof namespace === 'string' ? namespace : '',
    labels: stringMap(logger, ref, 'metadata.labels', meta['labels']),
    raw: meta,
  };
}

/** An integer in [min, max], else undefined. */
export function intField(v: unknown, min: number, max: number): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
}

/** An optional list: `undefined`/`null` is empty; anything but an array is undefined (invalid). */
export function listField(v: unknown): readonly unknown[] | undefined {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? (v as unknown[]) : undefined;
}

/** Labels that take an object away from the default proxy (upstream's informer selector). */
export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';

/**
 * Why an object must not be proxied by us, judging by its labels (upstream filters Services
 * and EndpointSlices alike with `!service-proxy-name,!headless`; a configured proxy name also
 * accepts objects labelled with exactly that name).
 */
export function labelSkipReason(labels: ReadonlyMap<string, string>, serviceProxyName: string | undefined): string | undefined {
  const proxyName = labels.get(LABEL_SERVICE_PROXY_NAME);
  if (proxyName !== undefined && proxyName !== serviceProxyName) {
    return `labelled ${LABEL_SERVICE_PROXY_NAME}=${JSON.stringify(proxyName)} (another proxy's)`;
  }
  if (labels.has(LABEL_HEADLESS)) return `labelled ${LABEL_HEADLESS}`;
  return undefined;
}
