// Renderer entry points: FamilySnapshot + options in, structured ruleset out. Pure: no clock,
// randomness, environment, filesystem or logging. Unsafe values skip their service only
// (reported in `skipped`), never the whole ruleset.

import type { FamilySnapshot, ServiceKey } from '../../model/types.ts';
import { categorizeEndpoints as defaultCategorize, type CategorizeFn } from './categorize.ts';
import { NftUnsafeValueError } from './errors.ts';
import { resolveFamilyContext, type FamilyContext, type NftablesRenderOptions } from './options.ts';
import { renderBase } from './render-base.ts';
import { renderServicePort } from './render-service.ts';
import type { FamilyRuleset, ServiceFragment, SkippedService } from './ruleset.ts';

export interface RenderDeps {
  /** Endpoint categorization (defaults to the model's categorizeEndpoints). */
  readonly categorize?: CategorizeFn;
}

export type RenderResult =
  | { readonly ok: true; readonly fragment: ServiceFragment }
  | { readonly ok: false; readonly skipped: SkippedService }
  | undefined;

/** Render one service port by key; undefined when the snapshot has no such port. */
export function renderPort(ctx: FamilyContext, snap: FamilySnapshot, portKey: string, deps: RenderDeps = {}): RenderResult {
  const sp = snap.services.get(portKey);
  if (!sp) return undefined;
  const categorize = deps.categorize ?? defaultCategorize;
  try {
    const cat = categorize(snap.endpoints.get(portKey) ?? [], sp, snap.nodeName, snap.nodeLabels);
    return { ok: true, fragment: renderServicePort(ctx, sp, cat) };
  } catch (err) {
    if (err instanceof NftUnsafeValueError) return { ok: false, skipped: { portKey, serviceKey: sp.name.service, error: err } };
    throw err;
  }
}

/** The whole ruleset of one family (a full sync). Linear in services + endpoints. */
export function renderFamily(snap: FamilySnapshot, options: NftablesRenderOptions, deps: RenderDeps = {}): FamilyRuleset {
  const ctx = resolveFamilyContext(snap.family, options);
  const services = new Map<string, ServiceFragment>();
  const skipped: SkippedService[] = [];
  for (const portKey of snap.services.keys()) {
    const r = renderPort(ctx, snap, portKey, deps);
    if (r?.ok === true) services.set(portKey, r.fragment);
    else if (r) skipped.push(r.skipped);
  }
  return { family: snap.family, nftFamily: ctx.nft, base: renderBase(ctx), services, skipped };
}

/**
 * Port keys of the given services present in the snapshot: O(changed services), through the
 * snapshot's per-service index.
 */
export function portKeysOfServices(snap: FamilySnapshot, services: ReadonlySet<ServiceKey>): Map<ServiceKey, string[]> {
  const out = new Map<ServiceKey, string[]>();
  for (const svc of services) {
    const keys = snap.portsByService.get(svc);
    if (keys !== undefined && keys.length > 0) out.set(svc, [...keys]);
  }
  return out;
}

export { resolveFamilyContext };
