// Content negotiation. Responses are JSON only: a client that lists JSON anywhere in Accept
// (client-go's protobuf clients always do) gets JSON; Table and PartialObjectMetadata
// renderings are served when asked for (kubectl get asks for Table).

import { ApiError } from '../errors.ts';

export type Rendering =
  | { readonly kind: 'json' }
  | { readonly kind: 'table'; readonly apiVersion: 'meta.k8s.io/v1' | 'meta.k8s.io/v1beta1' }
  | { readonly kind: 'partial'; readonly apiVersion: 'meta.k8s.io/v1' | 'meta.k8s.io/v1beta1' };

interface MediaRange {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header.split(',').map((part) => {
    const [t = '', ...ps] = part.split(';').map((s) => s.trim());
    const params = new Map<string, string>();
    for (const p of ps) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, ''));
    }
    return { type: t.toLowerCase(), params };
  }).filter((m) => m.type !== '');
}

function isJsonLike(t: string): boolean {
  return t === 'application/json' || t === 'application/*' || t === '*/*';
}

/** Picks the rendering for a resource read; throws 406 when nothing acceptable can be served. */
export function negotiate(header: string | undefined, allowTransforms: boolean): Rendering {
  const ranges = parseAccept(header);
  if (ranges.length === 0) return { kind: 'json' };
  for (const r of ranges) {
    if (!isJsonLike(r.type)) continue;
    const as = r.params.get('as');
    if (as === undefined) return { kind: 'json' };
    if (!allowTransforms || r.params.get('g') !== 'meta.k8s.io') continue;
    const v = r.params.get('v');
    if (v !== 'v1' && v !== 'v1beta1') continue;
    const apiVersion = v === 'v1' ? 'meta.k8s.io/v1' : 'meta.k8s.io/v1beta1';
    if (as === 'Table') return { kind: 'table', apiVersion };
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { kind: 'partial', apiVersion };
  }
  throw new ApiError(406, 'NotAcceptable', 'only the following media types are accepted: application/json');
}

/** The aggregated discovery version the client asked for, if any. */
export function wantsAggregatedDiscovery(header: string | undefined): 'v2' | 'v2beta1' | undefined {
  for (const r of parseAccept(header)) {
    if (r.type === 'application/json' && r.params.get('g') === 'apidiscovery.k8s.io' && r.params.get('as') === 'APIGroupDiscoveryList') {
      const v = r.params.get('v');
      if (v === 'v2' || v === 'v2beta1') return v;
    }
    if (isJsonLike(r.type) && !r.params.has('as')) return undefined;
  }
  return undefined;
}
