// The fixed part of the kube-proxy table: base chains hooked into netfilter, the dispatch and
// check chains they jump to, the maps services are looked up in, masquerading.
//
// Filter chains that must see the pre-DNAT destination (LoadBalancerSourceRanges) run at
// priority -110 (before DNAT at -100); the endpoint/ClusterIP checks run at filter priority 0,
// after DNAT, so that only packets that were not DNATed (no endpoints, unknown port) match.

import * as N from './names.ts';
import type { FamilyContext } from './options.ts';
import type { BaseRuleset, NftChain, NftElement, NftSetDecl } from './ruleset.ts';

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

export function renderBase(ctx: FamilyContext): BaseRuleset {
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
  add(N.SERVICES_CHAIN, `${ipX} daddr . meta l4proto . th dport vmap @${N.SERVICE_IPS_MAP}`);
  add(N.SERVICES_CHAIN, matchAll
    ? `fib daddr type local ${ctx.noLocalhost} meta l4proto . th dport vmap @${N.SERVICE_NODEPORTS_MAP}`
    : `${ipX} daddr @${N.NODEPORT_IPS_SET} meta l4proto . th dport vmap @${N.SERVICE_NODEPORTS_MAP}`);

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
  const chains = [...BASE_CHAINS, ...regular].map((c) => ({ ...c, rules: rules.get(c.name) ?? [] }));

  const triple = `${addrType} . inet_proto . inet_service : verdict`;
  const sets: NftSetDecl[] = [
    { kind: 'set', name: N.CLUSTER_IPS_SET, type: addrType, comment: 'Active ClusterIPs' },
    { kind: 'map', name: N.NO_ENDPOINT_SERVICES_MAP, type: triple, comment: 'vmap to drop or reject packets to services with no endpoints' },
    { kind: 'map', name: N.NO_ENDPOINT_NODEPORTS_MAP, type: 'inet_proto . inet_service : verdict', comment: 'vmap to drop or reject packets to service nodeports with no endpoints' },
    { kind: 'map', name: N.FIREWALL_IPS_MAP, type: triple, comment: 'destinations that are subject to LoadBalancerSourceRanges' },
    { kind: 'map', name: N.SERVICE_IPS_MAP, type: triple, comment: 'ClusterIP, ExternalIP and LoadBalancer IP traffic' },
    { kind: 'map', name: N.SERVICE_NODEPORTS_MAP, type: 'inet_proto . inet_service : verdict', comment: 'NodePort traffic' },
  ];
  const elements: NftElement[] = [];
  if (!matchAll) {
    sets.push({ kind: 'set', name: N.NODEPORT_IPS_SET, type: addrType, comment: 'IPs that accept NodePort traffic' });
    for (const ip of ctx.nodePortIPs) elements.push({ set: N.NODEPORT_IPS_SET, key: [ip] });
  }
  return { chains, sets, elements, absentSets: matchAll ? [N.NODEPORT_IPS_SET] : [] };
}
