// The Service strategy: defaulting, validation, allocation and the table kubectl prints.

import type { JsonObject } from '../../json.ts';
import { AGE_COLUMN, NAME_COLUMN, age } from '../meta.ts';
import { SERVICES } from '../resources.ts';
import type { Strategy, TableColumn } from '../types.ts';
import { dns1035Label } from '../validation.ts';
import type { ServiceAllocators } from './allocation.ts';
import { dropTypeDependentFields, patchAllocatedValues, setServiceDefaults } from './defaults.ts';
import { asService, type Service } from './types.ts';
import { validateService, validateServiceUpdate } from './validation.ts';

const col = (name: string, description: string, priority = 0): TableColumn => ({ name, type: 'string', format: '', description, priority });

const COLUMNS: readonly TableColumn[] = [
  NAME_COLUMN,
  col('Type', 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.'),
  col('Cluster-IP', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
  col('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
  col('Port(s)', 'The list of ports that are exposed by this service.'),
  AGE_COLUMN,
  col('Selector', 'Route service traffic to pods with label keys and values matching this selector.', 1),
];

export function formatLabels(m: Readonly<Record<string, string>> | undefined): string {
  const keys = Object.keys(m ?? {}).sort();
  if (!m || keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${m[k] ?? ''}`).join(',');
}

function externalIP(svc: Service): string {
  const spec = svc.spec ?? {};
  const ext = spec.externalIPs ?? [];
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length ? ext.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter((s) => s !== '');
      const all = [...lb, ...ext];
      return all.length ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

function portString(svc: Service): string {
  const s = (svc.spec?.ports ?? []).map((p) => {
    const proto = p.protocol ?? 'TCP';
    return p.nodePort ? `${String(p.port ?? 0)}:${String(p.nodePort)}/${proto}` : `${String(p.port ?? 0)}/${proto}`;
  }).join(',');
  return s || '<none>';
}

export function serviceStrategy(alloc: ServiceAllocators): Strategy {
  return {
    def: SERVICES,
    fieldSelectors: {
      'spec.clusterIP': (o) => asService(o).spec?.clusterIP,
      'spec.type': (o) => asService(o).spec?.type,
    },
    returnDeletedObject: true,
    generationFields: ['spec'],
    statusSubresource: true,
    nameErrors: dns1035Label,
    setDefaults: (o) => { setServiceDefaults(asService(o)); },
    prepareForCreate: (o) => {
      o['status'] = { loadBalancer: {} };
    },
    prepareForUpdate: (o, old) => {
      const svc = asService(o);
      const oldSvc = asService(old);
      svc.status = structuredClone(oldSvc.status ?? { loadBalancer: {} });
      patchAllocatedValues(svc, oldSvc);
      dropTypeDependentFields(svc, oldSvc);
    },
    validate: (o) => validateService(asService(o)),
    validateUpdate: (o, old) => validateServiceUpdate(asService(o), asService(old)),
    allocate: (o, old) => alloc.allocate(asService(o), old ? asService(old) : undefined),
    release: (o) => { alloc.release(asService(o)); },
    restore: (o) => { alloc.restore(asService(o)); },
    columns: COLUMNS,
    row: (o: JsonObject, now: number) => {
      const svc = asService(o);
      return [
        svc.metadata.name ?? '',
        svc.spec?.type ?? '',
        svc.spec?.clusterIPs?.[0] ?? '<none>',
        externalIP(svc),
        portString(svc),
        age(o, now),
        formatLabels(svc.spec?.selector),
      ];
    },
  };
}
