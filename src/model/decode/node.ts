// core/v1 Node JSON -> NodeInfo: the parts of our own Node the proxy uses (topology labels,
// deletion state for the health check, addresses and pod CIDRs). Skipping policy: see
// ./common.ts (a bad address or CIDR entry is dropped alone).

import type { Logger } from '../../util/logger.ts';
import { parseCIDR, parseIP } from '../ip.ts';
import type { NodeInfo } from '../types.ts';
import { SkipObject, decodeMetadata, isRecord, listField, logInvalid, refOf, type Json, type ObjectRef } from './common.ts';

export const TAINT_TO_BE_DELETED_BY_CLUSTER_AUTOSCALER = 'ToBeDeletedByClusterAutoscaler';
const NODE_IP_TYPES: ReadonlySet<unknown> = new Set(['InternalIP', 'ExternalIP']);

function fail(logger: Logger, ref: ObjectRef, field: string, value: unknown, problem: string): never {
  logInvalid(logger, ref, field, value, problem, 'Node skipped');
  throw new SkipObject();
}

function record(logger: Logger, ref: ObjectRef, field: string, v: unknown): Json {
  if (v === undefined || v === null) return {};
  return isRecord(v) ? v : fail(logger, ref, field, v, 'is not an object');
}

function list(logger: Logger, ref: ObjectRef, field: string, v: unknown): readonly unknown[] {
  return listField(v) ?? fail(logger, ref, field, v, 'is not a list');
}

function decodeAddresses(logger: Logger, ref: ObjectRef, status: Json): string[] {
  const out: string[] = [];
  list(logger, ref, 'status.addresses', status['addresses']).forEach((a, i) => {
    if (!isRecord(a) || !NODE_IP_TYPES.has(a['type'])) return;
    const ip = typeof a['address'] === 'string' ? parseIP(a['address']) : undefined;
    if (ip === undefined) logInvalid(logger, ref, `status.addresses[${i}].address`, a['address'], 'is not a valid IP address', 'address skipped');
    else if (!out.includes(ip.ip)) out.push(ip.ip);
  });
  return out;
}

function decodePodCIDRs(logger: Logger, ref: ObjectRef, spec: Json): string[] {
  let field = 'spec.podCIDRs';
  let raw = list(logger, ref, field, spec['podCIDRs']);
  if (raw.length === 0 && spec['podCIDR'] !== undefined && spec['podCIDR'] !== null && spec['podCIDR'] !== '') {
    field = 'spec.podCIDR';
    raw = [spec['podCIDR']];
  }
  const out: string[] = [];
  raw.forEach((c, i) => {
    const cidr = typeof c === 'string' ? parseCIDR(c) : undefined;
    if (cidr === undefined) logInvalid(logger, ref, field === 'spec.podCIDR' ? field : `${field}[${i}]`, c, 'is not a valid CIDR', 'pod CIDR skipped');
    else out.push(cidr.cidr);
  });
  return out;
}

/** Decodes a Node as served by the API; undefined (after one warn line) when unusable. */
export function decodeNode(obj: unknown, logger: Logger): NodeInfo | undefined {
  const ref = refOf('Node', obj);
  try {
    const meta = decodeMetadata(logger, ref, obj, false);
    const node = obj as Json;
    const spec = record(logger, ref, 'spec', node['spec']);
    const status = record(logger, ref, 'status', node['status']);
    const taints = list(logger, ref, 'spec.taints', spec['taints']);
    const deletion = meta.raw['deletionTimestamp'];
    return Object.freeze({
      name: meta.name,
      labels: meta.labels,
      deleting: deletion !== undefined && deletion !== null && deletion !== '',
      toBeDeletedByAutoscaler: taints.some((t) => isRecord(t) && t['key'] === TAINT_TO_BE_DELETED_BY_CLUSTER_AUTOSCALER),
      addresses: decodeAddresses(logger, ref, status),
      podCIDRs: decodePodCIDRs(logger, ref, spec),
    });
  } catch (err) {
    if (err instanceof SkipObject) return undefined;
    throw err;
  }
}
