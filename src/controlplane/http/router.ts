// URL → what is being asked for. Resource paths follow kube-apiserver:
//   /api/v1[/watch][/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
//   /apis/{group}/{version}[/watch][/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]

import type { ResourceDef } from '../registry/types.ts';

export type Route =
  | { readonly kind: 'root' }
  | { readonly kind: 'version' }
  | { readonly kind: 'health'; readonly check: string }
  | { readonly kind: 'openapi-v2' }
  | { readonly kind: 'openapi-v3-index' }
  | { readonly kind: 'openapi-v3'; readonly gv: string }
  | { readonly kind: 'api-versions' }
  | { readonly kind: 'api-groups' }
  | { readonly kind: 'api-group'; readonly group: string }
  | { readonly kind: 'resource-list'; readonly group: string; readonly version: string }
  | {
      readonly kind: 'resource';
      readonly def: ResourceDef;
      readonly namespace: string | undefined;
      readonly name: string | undefined;
      readonly subresource: string | undefined;
      readonly watchPath: boolean;
    }
  | { readonly kind: 'not-found' };

export function route(pathname: string, resources: readonly ResourceDef[]): Route {
  let segs: string[];
  try {
    segs = pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return { kind: 'not-found' };
  }
  const [first, second, third] = segs;
  if (first === undefined) return { kind: 'root' };
  if (segs.length === 1 && first === 'version') return { kind: 'version' };
  if ((first === 'healthz' || first === 'livez' || first === 'readyz') && segs.length <= 2) return { kind: 'health', check: second ?? '' };
  if (first === 'openapi') {
    if (second === 'v2' && segs.length === 2) return { kind: 'openapi-v2' };
    if (second === 'v3' && segs.length === 2) return { kind: 'openapi-v3-index' };
    if (second === 'v3') return { kind: 'openapi-v3', gv: segs.slice(2).join('/') };
    return { kind: 'not-found' };
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (first === 'api') {
    if (second === undefined) return { kind: 'api-versions' };
    group = '';
    version = second;
    rest = segs.slice(2);
  } else if (first === 'apis') {
    if (second === undefined) return { kind: 'api-groups' };
    if (!resources.some((r) => r.group === second)) return { kind: 'not-found' };
    if (third === undefined) return { kind: 'api-group', group: second };
    group = second;
    version = third;
    rest = segs.slice(3);
  } else {
    return { kind: 'not-found' };
  }
  const inGV = resources.filter((r) => r.group === group && r.version === version);
  if (inGV.length === 0) return { kind: 'not-found' };
  if (rest.length === 0) return { kind: 'resource-list', group, version };
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  const find = (name: string | undefined): ResourceDef | undefined => inGV.find((r) => r.resource === name);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && find(rest[2])?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const def = find(rest[0]);
  if (!def || rest.length > 3) return { kind: 'not-found' };
  if (namespace !== undefined && !def.namespaced) return { kind: 'not-found' };
  const subresource = rest[2];
  if (subresource !== undefined && (!def.subresources.includes(subresource) || watchPath)) return { kind: 'not-found' };
  return { kind: 'resource', def, namespace, name: rest[1], subresource, watchPath };
}
