// Node strategy (cluster-scoped): podCIDR(s) consistency, taints, the table kubectl prints.

import { fe, type FieldError } from '../errors.ts';
import type { JsonObject } from '../json.ts';
import { parseCIDR } from './ip.ts';
import { AGE_COLUMN, NAME_COLUMN, age, metaOf } from './meta.ts';
import { NODES } from './resources.ts';
import type { ObjectMeta, Strategy, TableColumn } from './types.ts';
import { dns1123Subdomain, invalidAll, labelValue, qualifiedName, validateCIDR } from './validation.ts';

interface Node {
  metadata: ObjectMeta;
  spec?: { podCIDR?: string; podCIDRs?: string[]; unschedulable?: boolean; taints?: { key?: string; value?: string; effect?: string }[] };
  status?: {
    conditions?: { type?: string; status?: string }[];
    addresses?: { type?: string; address?: string }[];
    nodeInfo?: { kubeletVersion?: string; osImage?: string; kernelVersion?: string; containerRuntimeVersion?: string };
  };
}

function asNode(o: JsonObject): Node {
  return o as unknown as Node;
}

const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'PreferNoSchedule'];

function validateNode(n: Node): FieldError[] {
  const errs: FieldError[] = [];
  const spec = n.spec ?? {};
  const cidrs = spec.podCIDRs ?? [];
  cidrs.forEach((c, i) => { errs.push(...validateCIDR(c, `spec.podCIDRs[${String(i)}]`)); });
  if (cidrs.length > 2) errs.push(fe.invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
  if (cidrs.length === 2) {
    const [a, b] = cidrs.map(parseCIDR);
    if (a && b && a.family === b.family) errs.push(fe.invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
  }
  (spec.taints ?? []).forEach((t, i) => {
    const p = `spec.taints[${String(i)}]`;
    errs.push(...invalidAll(`${p}.key`, t.key ?? '', qualifiedName(t.key ?? '')));
    if (t.value !== undefined) errs.push(...invalidAll(`${p}.value`, t.value, labelValue(t.value)));
    if (!t.effect) errs.push(fe.required(`${p}.effect`));
    else if (!TAINT_EFFECTS.includes(t.effect)) errs.push(fe.notSupported(`${p}.effect`, t.effect, TAINT_EFFECTS));
  });
  return errs;
}

const col = (name: string, description: string, priority = 0): TableColumn => ({ name, type: 'string', format: '', description, priority });
const COLUMNS: readonly TableColumn[] = [
  NAME_COLUMN,
  col('Status', 'The status of the node'),
  col('Roles', 'The roles of the node'),
  AGE_COLUMN,
  col('Version', 'Kubelet Version reported by the node.'),
  col('Internal-IP', 'List of addresses reachable to the node.', 1),
  col('External-IP', 'List of addresses reachable to the node.', 1),
  col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
  col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
  col('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
];

function nodeStatus(n: Node): string {
  const ready = (n.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (n.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function roles(n: Node): string {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(n.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) out.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v) out.add(v);
  }
  return out.size ? [...out].sort().join(',') : '<none>';
}

function address(n: Node, type: string): string {
  return (n.status?.addresses ?? []).find((a) => a.type === type)?.address ?? '<none>';
}

/** Keeps podCIDR and podCIDRs[0] consistent, as the v1 conversion does. */
function syncPodCIDRs(n: Node): void {
  const spec = n.spec;
  if (!spec) return;
  if (spec.podCIDR && !spec.podCIDRs?.length) spec.podCIDRs = [spec.podCIDR];
  else if (!spec.podCIDR && spec.podCIDRs?.[0]) spec.podCIDR = spec.podCIDRs[0];
}

export function nodeStrategy(): Strategy {
  return {
    def: NODES,
    fieldSelectors: { 'spec.unschedulable': (o) => String(asNode(o).spec?.unschedulable ?? false) },
    returnDeletedObject: false,
    generationFields: undefined,
    statusSubresource: true,
    nameErrors: dns1123Subdomain,
    setDefaults: (o) => { syncPodCIDRs(asNode(o)); },
    prepareForCreate: () => undefined,
    prepareForUpdate: (o, old) => {
      const n = asNode(o);
      const prev = asNode(old);
      if (prev.status) n.status = structuredClone(prev.status);
      else delete n.status;
    },
    validate: (o) => validateNode(asNode(o)),
    validateUpdate: (o, old) => {
      const a = asNode(o).spec?.podCIDRs ?? [];
      const b = asNode(old).spec?.podCIDRs ?? [];
      if (b.length > 0 && JSON.stringify(a) !== JSON.stringify(b)) {
        return [fe.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid')];
      }
      return [];
    },
    allocate: () => ({ rollback: () => undefined, commit: () => undefined }),
    release: () => undefined,
    restore: () => undefined,
    columns: COLUMNS,
    row: (o, now) => {
      const n = asNode(o);
      const info = n.status?.nodeInfo ?? {};
      return [
        metaOf(o).name ?? '', nodeStatus(n), roles(n), age(o, now), info.kubeletVersion ?? '',
        address(n, 'InternalIP'), address(n, 'ExternalIP'),
        info.osImage || '<unknown>', info.kernelVersion || '<unknown>', info.containerRuntimeVersion || '<unknown>',
      ];
    },
  };
}
