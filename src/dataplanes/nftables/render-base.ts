// The fixed part of our tables: base chains hooked into netfilter, the dispatch and check
// chains they jump to, the maps services are looked up in, masquerading.
//
// Filter chains that must see the pre-DNAT destination (LoadBalancerSourceRanges) run at
// priority -110 (before DNAT at -100); the endpoint/ClusterIP checks run at filter priority 0,
// after DNAT, so that only packets that were not DNATed (no endpoints, unknown port) match.
//
// TABLE holds all of that. Each extra service table (placement.ts) holds only the DNAT side:
// its own nat prerouting/output chains jumping to its own `services` dispatch, maps and
// mark-for-masquerade; packets leave it marked, and TABLE's postrouting masquerades them.

import * as N from './names.ts';
import type { FamilyContext } from './options.ts';
import type { NftChain, NftElement, NftSetDecl, ServiceFragment, TableRuleset } from './ruleset.ts';

interface JumpSpec { readonly from: string; readonly to: string; readonly match: string }

const BASE_CHAINS: readonly NftChain[] = [
  { name: N.FILTER_PREROUTING_PRE_DNAT, base: { type: 'filter', hook: 'prerouting', priority: -110 }, rules: [] },
  { name: N.FILTER_OUTPUT_PRE_DNAT, base: { type: 'filter', hook: 'output', priority: -110 }, rules: [] },
  { name: N.FILTER_INPUT, base: { type: 'filter', hook: 'input', priority: 0 }, rules: [] },
  { name: N.FILTER_FORWARD, base: { type: 'filter', hook: 'forward', priority: 0 }, rules: [] },
  { name: N.FILTER_OUTPUT, base: { type: 'filter', hook: 'output', priority: 0 }, rules: [] },
  { name: N.NAT_PREROUTING, base: { type: 'nat', hook: 'prerouting', priority: -100 }, rules: [] },
  { name: N.NAT_OUTPUT, base: { type: 'nat', hook: 'output', priority: -100 }, rules: [] },
  { name: N.NAT_POSTROUTING, base: { type: 'nat', hook: 'postrouting', priority: 100 }, rules: [] },
];

// Order matters within a base chain; it follows upstream's nftablesJumpChains.
const JUMPS: readonly JumpSpec[] = [
  { to: N.NODEPORT_ENDPOINTS_CHECK_CHAIN, from: N.FILTER_INPUT, match: 'ct state new' },
  { to: N.SERVICE_ENDPOINTS_CHECK_CHAIN, from: N.FILTER_INPUT, match: 'ct state new' },
  { to: N.SERVICE_ENDPOINTS_CHECK_CHAIN, from: N.FILTER_FORWARD, match: 'ct state new' },
  { to: N.SERVICE_ENDPOINTS_CHECK_CHAIN, from: N.FILTER_OUTPUT, match: 'ct state new' },
  { to: N.FIREWALL_CHECK_CHAIN, from: N.FILTER_PREROUTING_PRE_DNAT, match: 'ct state new' },
  { to: N.FIREWALL_CHECK_CHAIN, from: N.FILTER_OUTPUT_PRE_DNAT, match: 'ct state new' },
  { to: N.SERVICES_CHAIN, from: N.NAT_OUTPUT, match: '' },
  { to: N.SERVICES_CHAIN, from: N.NAT_PREROUTING, match: '' },
  { to: N.MASQUERADING_CHAIN, from: N.NAT_POSTROUTING, match: '' },
  { to: N.CLUSTER_IPS_CHECK_CHAIN, from: N.FILTER_FORWARD, match: 'ct state new' },
  { to: N.CLUSTER_IPS_CHECK_CHAIN, from: N.FILTER_OUTPUT, match: 'ct state new' },
];

const BACKENDS_PROTOCOLS: readonly N.BackendsProtocol[] = ['tcp', 'udp', 'sctp'];

/** A backends map's key and value, as expressions (it cannot be declared by type names). */
export function backendsTypeof(ctx: Pick<FamilyContext, 'ipX'>, proto: N.BackendsProtocol): string {
  return `${ctx.ipX} daddr . ${proto} dport . numgen random mod 2 : ${ctx.ipX} daddr . ${proto} dport`;
}

function backendsProtocolOf(name: string): N.BackendsProtocol | undefined {
  return BACKENDS_PROTOCOLS.find((p) => N.BACKENDS_MAPS[p] === name);
}

/** Declaration (kind and "type …"/"typeof …") of each set/map whose elements the planner manages. */
export function containerDecl(ctx: Pick<FamilyContext, 'addrType' | 'ipX'>, name: string): { readonly kind: 'set' | 'map'; readonly spec: string } {
  const triple = `${ctx.addrType} . inet_proto . inet_service : verdict`;
  switch (name) {
    case N.CLUSTER_IPS_SET: return { kind: 'set', spec: `type ${ctx.addrType}` };
    case N.HAIRPIN_SET: return { kind: 'set', spec: `type ${ctx.addrType} . ${ctx.addrType}` };
    case N.SERVICE_NODEPORTS_MAP:
    case N.NO_ENDPOINT_NODEPORTS_MAP: return { kind: 'map', spec: 'type inet_proto . inet_service : verdict' };
    default: {
      const proto = backendsProtocolOf(name);
      if (proto !== undefined) return { kind: 'map', spec: `typeof ${backendsTypeof(ctx, proto)}` };
      return { kind: 'map', spec: `type ${triple}` };
    }
  }
}

/** The backends maps of `table`, which the lb chains refer to. */
export function backendsMapDecls(ctx: Pick<FamilyContext, 'addrType' | 'ipX'>, table: string): NftSetDecl[] {
  return BACKENDS_PROTOCOLS.map((proto): NftSetDecl => ({
    table, kind: 'map', name: N.BACKENDS_MAPS[proto], type: `${ctx.addrType} . inet_service . integer : ${ctx.addrType} . inet_service`,
    typeof: backendsTypeof(ctx, proto), comment: `ClusterIP . port . index: endpoint of an lb chain (${proto})`,
  }));
}

/**
 * The shared chain for service ports whose only entry point is their ClusterIP and that have
 * `n` endpoints: masquerade as a service chain would, then DNAT to endpoint `numgen mod n` of
 * the port, looked up in the backends map by the packet's own destination.
 */
export function renderLbChain(ctx: FamilyContext, table: string, n: number): NftChain {
  const rules: string[] = [];
  if (ctx.masqueradeAll) rules.push(`jump ${N.MARK_MASQ_CHAIN}`);
  else if (ctx.ifNotLocal !== undefined) rules.push(`${ctx.ifNotLocal} jump ${N.MARK_MASQ_CHAIN}`);
  const { ipX } = ctx;
  for (const proto of BACKENDS_PROTOCOLS) {
    rules.push(`meta l4proto ${proto} dnat ${ipX} to ${ipX} daddr . ${proto} dport . numgen random mod ${String(n)} map @${N.BACKENDS_MAPS[proto]}`);
  }
  return { table, name: N.lbChain(n), rules };
}

/**
 * The DNAT dispatch every service table has: `services` and its two lookups. `shard`: in an
 * extra table (placement.ts) every new connection that no earlier table DNATed passes this
 * chain, so the NodePort rule first asks whether the port is one of this table's NodePorts,
 * and only then does the route lookup (`fib`): same verdicts, one hash lookup instead of a
 * fib per table for all other traffic. TABLE keeps upstream's form.
 */
function dispatchRules(ctx: FamilyContext, shard = false): string[] {
  const { ipX } = ctx;
  const matchAll = ctx.nodePortIPs === undefined;
  const guard = shard ? `meta l4proto . th dport @${N.SERVICE_NODEPORTS_MAP} ` : '';
  return [
    `${ipX} daddr . meta l4proto . th dport vmap @${N.SERVICE_IPS_MAP}`,
    matchAll
      ? `${guard}fib daddr type local ${ctx.noLocalhost} meta l4proto . th dport vmap @${N.SERVICE_NODEPORTS_MAP}`
      : `${ipX} daddr @${N.NODEPORT_IPS_SET} meta l4proto . th dport vmap @${N.SERVICE_NODEPORTS_MAP}`,
  ];
}

function dispatchSets(ctx: FamilyContext, table: string): { sets: NftSetDecl[]; elements: NftElement[] } {
  const triple = `${ctx.addrType} . inet_proto . inet_service : verdict`;
  const sets: NftSetDecl[] = [
    { table, kind: 'map', name: N.SERVICE_IPS_MAP, type: triple, comment: 'ClusterIP, ExternalIP and LoadBalancer IP traffic' },
    { table, kind: 'map', name: N.SERVICE_NODEPORTS_MAP, type: 'inet_proto . inet_service : verdict', comment: 'NodePort traffic' },
    ...backendsMapDecls(ctx, table),
  ];
  const elements: NftElement[] = [];
  if (ctx.nodePortIPs !== undefined) {
    sets.push({ table, kind: 'set', name: N.NODEPORT_IPS_SET, type: ctx.addrType, comment: 'IPs that accept NodePort traffic' });
    for (const ip of ctx.nodePortIPs) elements.push({ table, set: N.NODEPORT_IPS_SET, key: [ip] });
  }
  return { sets, elements };
}

export function renderBase(ctx: FamilyContext): TableRuleset {
  const { ipX, addrType, mark } = ctx;
  const matchAll = ctx.nodePortIPs === undefined;
  const rules = new Map<string, string[]>();
  const add = (chain: string, rule: string): void => {
    let list = rules.get(chain);
    if (!list) rules.set(chain, (list = []));
    list.push(rule);
  };

  for (const j of JUMPS) add(j.from, j.match === '' ? `jump ${j.to}` : `${j.match} jump ${j.to}`);

  add(N.MARK_MASQ_CHAIN, `mark set mark or ${mark}`);
  // Hairpin: a connection DNATed to its own source must be masqueraded, or the endpoint would
  // answer itself directly. Upstream marks this in each endpoint chain (`ip saddr <ep>`); the
  // service chains here DNAT inline, so the check runs once, after DNAT, on "saddr . daddr".
  add(N.MASQUERADING_CHAIN, `ct status dnat ${ipX} saddr . ${ipX} daddr @${N.HAIRPIN_SET} jump ${N.MARK_MASQ_CHAIN}`);
  add(N.MASQUERADING_CHAIN, `mark and ${mark} == 0 return`);
  add(N.MASQUERADING_CHAIN, `mark set mark xor ${mark}`);
  add(N.MASQUERADING_CHAIN, 'masquerade fully-random');

  add(N.CLUSTER_IPS_CHECK_CHAIN, `${ipX} daddr @${N.CLUSTER_IPS_SET} reject comment "Reject traffic to invalid ports of ClusterIPs"`);
  if (ctx.serviceCIDRs.length > 0) {
    add(N.CLUSTER_IPS_CHECK_CHAIN, `${ipX} daddr { ${ctx.serviceCIDRs.join(', ')} } drop comment "Drop traffic to unallocated ClusterIPs"`);
  }

  add(N.REJECT_CHAIN, 'reject');
  add(N.SERVICE_ENDPOINTS_CHECK_CHAIN, `${ipX} daddr . meta l4proto . th dport vmap @${N.NO_ENDPOINT_SERVICES_MAP}`);
  add(N.NODEPORT_ENDPOINTS_CHECK_CHAIN, matchAll
    ? `${ctx.noLocalhost} meta l4proto . th dport vmap @${N.NO_ENDPOINT_NODEPORTS_MAP}`
    : `${ipX} daddr @${N.NODEPORT_IPS_SET} meta l4proto . th dport vmap @${N.NO_ENDPOINT_NODEPORTS_MAP}`);
  add(N.FIREWALL_CHECK_CHAIN, `${ipX} daddr . meta l4proto . th dport vmap @${N.FIREWALL_IPS_MAP}`);
  for (const r of dispatchRules(ctx)) add(N.SERVICES_CHAIN, r);

  const regular: readonly NftChain[] = [
    { name: N.SERVICES_CHAIN, rules: [] },
    { name: N.MASQUERADING_CHAIN, rules: [] },
    { name: N.MARK_MASQ_CHAIN, rules: [] },
    { name: N.CLUSTER_IPS_CHECK_CHAIN, rules: [] },
    { name: N.SERVICE_ENDPOINTS_CHECK_CHAIN, rules: [] },
    { name: N.NODEPORT_ENDPOINTS_CHECK_CHAIN, rules: [] },
    { name: N.FIREWALL_CHECK_CHAIN, rules: [] },
    { name: N.REJECT_CHAIN, comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports', rules: [] },
  ];
  const chains = [...BASE_CHAINS, ...regular].map((c) => ({ ...c, table: N.TABLE, rules: rules.get(c.name) ?? [] }));

  const triple = `${addrType} . inet_proto . inet_service : verdict`;
  const dispatch = dispatchSets(ctx, N.TABLE);
  const sets: NftSetDecl[] = [
    { table: N.TABLE, kind: 'set', name: N.CLUSTER_IPS_SET, type: addrType, comment: 'Active ClusterIPs' },
    { table: N.TABLE, kind: 'set', name: N.HAIRPIN_SET, type: `${addrType} . ${addrType}`, comment: 'Endpoint addresses: DNATed to itself means hairpin' },
    { table: N.TABLE, kind: 'map', name: N.NO_ENDPOINT_SERVICES_MAP, type: triple, comment: 'vmap to drop or reject packets to services with no endpoints' },
    { table: N.TABLE, kind: 'map', name: N.NO_ENDPOINT_NODEPORTS_MAP, type: 'inet_proto . inet_service : verdict', comment: 'vmap to drop or reject packets to service nodeports with no endpoints' },
    { table: N.TABLE, kind: 'map', name: N.FIREWALL_IPS_MAP, type: triple, comment: 'destinations that are subject to LoadBalancerSourceRanges' },
    ...dispatch.sets,
  ];
  return { name: N.TABLE, chains, sets, elements: dispatch.elements, absentSets: matchAll ? [N.NODEPORT_IPS_SET] : [] };
}

/** An extra service table: its nat hooks, `services` dispatch, maps and mark-for-masquerade. */
export function renderShardBase(ctx: FamilyContext, table: string): TableRuleset {
  const matchAll = ctx.nodePortIPs === undefined;
  const chains: NftChain[] = [
    { table, name: N.NAT_PREROUTING, base: { type: 'nat', hook: 'prerouting', priority: -100 }, rules: [`jump ${N.SERVICES_CHAIN}`] },
    { table, name: N.NAT_OUTPUT, base: { type: 'nat', hook: 'output', priority: -100 }, rules: [`jump ${N.SERVICES_CHAIN}`] },
    { table, name: N.SERVICES_CHAIN, rules: dispatchRules(ctx, true) },
    { table, name: N.MARK_MASQ_CHAIN, rules: [`mark set mark or ${ctx.mark}`] },
  ];
  const dispatch = dispatchSets(ctx, table);
  return { name: table, chains, sets: dispatch.sets, elements: dispatch.elements, absentSets: matchAll ? [N.NODEPORT_IPS_SET] : [] };
}

/** Adds to each table the shared lb chains its service ports dispatch to. */
export function withLbChains(ctx: FamilyContext, tables: readonly TableRuleset[], used: Iterable<Pick<ServiceFragment, 'table' | 'lb'>>): TableRuleset[] {
  const wanted = new Map<string, Set<number>>();
  for (const f of used) {
    if (f.lb === undefined) continue;
    let set = wanted.get(f.table);
    if (!set) wanted.set(f.table, (set = new Set()));
    set.add(f.lb);
  }
  return tables.map((t) => {
    const ns = [...(wanted.get(t.name) ?? [])].sort((a, b) => a - b);
    return ns.length === 0 ? t : { ...t, chains: [...t.chains, ...ns.map((n) => renderLbChain(ctx, t.name, n))] };
  });
}
