// Discovery documents: aggregated (apidiscovery.k8s.io/v2, what kubectl asks for first) and
// the legacy per-group documents, plus /version.

import type { ResourceDef } from '../registry/types.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const SUB_VERBS = ['get', 'patch', 'update'];

export const SERVER_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0+kube-proxy-ts' };

export function versionInfo(): Record<string, string> {
  return {
    ...SERVER_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: `node ${process.version}`,
    compiler: 'node',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

function aggregatedResource(d: ResourceDef): Record<string, unknown> {
  const responseKind = { group: d.group, version: d.version, kind: d.kind };
  const r: Record<string, unknown> = {
    resource: d.resource,
    responseKind,
    scope: d.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: d.singular,
    verbs: VERBS,
  };
  if (d.shortNames.length) r['shortNames'] = d.shortNames;
  if (d.categories.length) r['categories'] = d.categories;
  if (d.subresources.length) r['subresources'] = d.subresources.map((s) => ({ subresource: s, responseKind, verbs: SUB_VERBS }));
  return r;
}

/** APIGroupDiscoveryList for /api (group '') or /apis. */
export function aggregatedDiscovery(defs: readonly ResourceDef[], core: boolean, version: 'v2' | 'v2beta1'): string {
  const groups = [...new Set(defs.filter((d) => (d.group === '') === core).map((d) => d.group))];
  const items = groups.map((g) => {
    const inGroup = defs.filter((d) => d.group === g);
    const versions = [...new Set(inGroup.map((d) => d.version))].map((v) => ({
      version: v,
      resources: inGroup.filter((d) => d.version === v).map(aggregatedResource),
      freshness: 'Current',
    }));
    const metadata: Record<string, unknown> = { creationTimestamp: null };
    if (g) metadata['name'] = g;
    return { metadata, versions };
  });
  return JSON.stringify({ kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items });
}

export function aggregatedContentType(version: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

export function apiVersions(serverAddress: string): string {
  return JSON.stringify({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] });
}

function groupDoc(defs: readonly ResourceDef[], group: string): Record<string, unknown> {
  const versions = [...new Set(defs.filter((d) => d.group === group).map((d) => d.version))].map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions, preferredVersion: versions[0] };
}

export function apiGroupList(defs: readonly ResourceDef[]): string {
  const groups = [...new Set(defs.map((d) => d.group).filter((g) => g !== ''))];
  return JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => groupDoc(defs, g)) });
}

export function apiGroup(defs: readonly ResourceDef[], group: string): string {
  return JSON.stringify({ kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(defs, group) });
}

export function apiResourceList(defs: readonly ResourceDef[], group: string, version: string): string {
  const resources: Record<string, unknown>[] = [];
  for (const d of defs.filter((x) => x.group === group && x.version === version)) {
    const r: Record<string, unknown> = { name: d.resource, singularName: d.singular, namespaced: d.namespaced, kind: d.kind, verbs: VERBS };
    if (d.shortNames.length) r['shortNames'] = d.shortNames;
    if (d.categories.length) r['categories'] = d.categories;
    resources.push(r);
    for (const s of d.subresources) resources.push({ name: `${d.resource}/${s}`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: SUB_VERBS });
  }
  const gv = group ? `${group}/${version}` : version;
  return JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources });
}
