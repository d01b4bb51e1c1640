// ServiceCIDR (networking.k8s.io/v1): the cluster's Service IP ranges, spec.cidrs (one per
// family, at most two). Upstream kube-proxy (pkg/proxy/config, ServiceCIDRConfig) takes the
// union of spec.cidrs over all ServiceCIDR objects; traffic to an address inside them that no
// Service has is dropped. A CIDR that does not parse is logged, naming the object and the
// field, and skipped; the object's other CIDRs still count.

import type { KubeObject } from '../../sources/handlers.ts';
import type { Logger } from '../../util/logger.ts';
import { parseCIDR } from '../ip.ts';
import type { IPFamily } from '../types.ts';
import { isRecord } from './common.ts';

export interface DecodedServiceCIDR {
  readonly name: string;
  /** Canonical networks ("10.96.0.0/12"), with their family. */
  readonly cidrs: readonly { readonly cidr: string; readonly family: IPFamily }[];
}

export function decodeServiceCIDR(obj: KubeObject, logger: Logger): DecodedServiceCIDR {
  const name = obj.metadata.name;
  const spec = obj['spec'];
  const raw: unknown = isRecord(spec) ? spec['cidrs'] : undefined;
  const cidrs: { cidr: string; family: IPFamily }[] = [];
  if (raw !== undefined && !Array.isArray(raw)) {
    logger.warn({ serviceCIDR: name, field: 'spec.cidrs' }, `ServiceCIDR ${name}: spec.cidrs is not a list; ignored`);
    return { name, cidrs };
  }
  for (const [i, text] of (Array.isArray(raw) ? raw as unknown[] : []).entries()) {
    const parsed = typeof text === 'string' ? parseCIDR(text) : undefined;
    if (parsed === undefined) {
      logger.warn({ serviceCIDR: name, field: `spec.cidrs[${String(i)}]`, value: text }, `ServiceCIDR ${name}: spec.cidrs[${String(i)}] ${JSON.stringify(text)} is not a CIDR; skipped`);
      continue;
    }
    cidrs.push(parsed);
  }
  return { name, cidrs };
}
