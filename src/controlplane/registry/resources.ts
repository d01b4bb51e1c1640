// The served resources.

import { SCHEMA_NAMES } from './schema.ts';
import type { ResourceDef } from './types.ts';

function def(d: Omit<ResourceDef, 'apiVersion' | 'listKind'>): ResourceDef {
  return { ...d, listKind: `${d.kind}List`, apiVersion: d.group ? `${d.group}/${d.version}` : d.version };
}

export const SERVICES = def({
  group: '', version: 'v1', resource: 'services', kind: 'Service', singular: 'service', namespaced: true,
  shortNames: ['svc'], categories: ['all'], schema: SCHEMA_NAMES.service, subresources: ['status'],
});

export const NODES = def({
  group: '', version: 'v1', resource: 'nodes', kind: 'Node', singular: 'node', namespaced: false,
  shortNames: ['no'], categories: [], schema: SCHEMA_NAMES.node, subresources: ['status'],
});

export const NAMESPACES = def({
  group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', singular: 'namespace', namespaced: false,
  shortNames: ['ns'], categories: [], schema: SCHEMA_NAMES.namespace, subresources: ['status'],
});

export const ENDPOINT_SLICES = def({
  group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', kind: 'EndpointSlice', singular: 'endpointslice',
  namespaced: true, shortNames: [], categories: [], schema: SCHEMA_NAMES.endpointSlice, subresources: [],
});

export const ALL_RESOURCES: readonly ResourceDef[] = [NAMESPACES, NODES, SERVICES, ENDPOINT_SLICES];

/** Namespaces that exist from the first start and cannot be deleted. */
export const SYSTEM_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
