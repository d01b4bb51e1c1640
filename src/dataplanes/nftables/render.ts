// Renderer entry points: FamilySnapshot + options in, structured ruleset out. Pure: no clock,
// randomness, environment, filesystem or logging. Unsafe values skip their service only
// (reported in `skipped`), never the whole ruleset.

import type { FamilySnapshot, ServiceKey } from '../../model/types.ts';
import { categorizeEndpoints as defaultCategorize, type CategorizeFn } from './categorize.ts';
import { NftUnsafeValueError } from './errors.ts';
import { shardTable } from './names.ts';
import { resolveFamilyContext, type FamilyContext, type NftablesRenderOptions } from './options.ts';
import { tableFor } from './placement.ts';
import { renderBase, renderShardBase, withLbChains } from './render-base.ts';
import { portNames, renderServicePort, type PortNames } from './render-service.ts';
import type { FamilyRuleset, ServiceFragment, SkippedService, TableRuleset } from './ruleset.ts';

export interface RenderDeps {
  /** Endpoint categorization (defaults to the model's categorizeEndpoints). */
  readonly categorize?: CategorizeFn;
  /**
   * Names hashed per service port (SHA-256), kept across syncs by the caller: a port's names
   * never change, and hashing every port again on every full sync is measurable at 30k ports.
   */
  readonly names?: Map<string, PortNames>;
}

export type RenderResult =
  | { readonly ok: true; readonly fragment: ServiceFragment }
  | { readonly ok: false; readonly skipped: SkippedService }
  | undefined;

/** Render one service port by key into `table`; undefined when the snapshot has no such port. */
export function renderPort(ctx: FamilyContext, snap: FamilySnapshot, portKey: string, deps: RenderDeps = {}, table: string = shardTable(0)): RenderResult {
  const sp = snap.services.get(portKey);
  if (!sp) return undefined;
  const categorize = deps.categorize ?? defaultCategorize;
  try {
    let names = deps.names?.get(portKey);
    if (names === undefined) {
      names = portNames(sp);
      deps.names?.set(portKey, names);
    }
    const cat = categorize(snap.endpoints.get(portKey) ?? [], sp, snap.nodeName, snap.nodeLabels);
    return { ok: true, fragment: renderServicePort(ctx, sp, cat, table, names) };
  } catch (err) {
    if (err instanceof NftUnsafeValueError) return { ok: false, skipped: { portKey, serviceKey: sp.name.service, error: err } };
    throw err;
  }
}

/** The fixed parts of `shards` tables: TABLE, then kube-proxy-s1 …. */
export function renderTables(ctx: FamilyContext, shards: number): TableRuleset[] {
  const out = [renderBase(ctx)];
  for (let i = 1; i < shards; i++) out.push(renderShardBase(ctx, shardTable(i)));
  return out;
}

/**
 * Every service port's fragment, rendered as it is asked for; ports that cannot be rendered
 * go to `skipped`. A full sync plans each fragment as it comes (plan-full.ts), so only one is
 * alive at a time: the whole rendered ruleset of 10k services is ≈ 20 MiB of short-lived objects.
 */
export function* renderFragments(snap: FamilySnapshot, ctx: FamilyContext, deps: RenderDeps, shards: number, skipped: SkippedService[]): Generator<ServiceFragment> {
  for (const [service, portKeys] of snap.portsByService) {
    const table = tableFor(service, shards);
    for (const portKey of portKeys) {
      const r = renderPort(ctx, snap, portKey, deps, table);
      if (r?.ok === true) yield r.fragment;
      else if (r) skipped.push(r.skipped);
    }
  }
}

/** The whole ruleset of one family (a full sync). Linear in services + endpoints. */
export function renderFamily(snap: FamilySnapshot, options: NftablesRenderOptions | FamilyContext, deps: RenderDeps = {}, shards = 1): FamilyRuleset {
  const ctx = 'addrType' in options ? options : resolveFamilyContext(snap.family, options);
  const services = new Map<string, ServiceFragment>();
  const skipped: SkippedService[] = [];
  for (const frag of renderFragments(snap, ctx, deps, shards, skipped)) services.set(frag.portKey, frag);
  return { family: snap.family, nftFamily: ctx.nft, tables: withLbChains(ctx, renderTables(ctx, shards), services.values()), services, skipped };
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

export { resolveFamilyContext, withLbChains };
