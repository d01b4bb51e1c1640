// Names of our nftables objects. All of them live in our own table, so they need no
// "kube-" prefix. Service-specific names embed a hash so they stay unique when truncated and
// are easy to tell apart (upstream pkg/proxy/nftables/proxier.go, same scheme and limits).

import { createHash } from 'node:crypto';
import type { Endpoint, ServicePortName } from '../../model/types.ts';
import { nftProtocol, safeName, safePort, safePortName } from './safety.ts';

export const TABLE = 'kube-proxy';
/**
 * Extra service tables at scale ("kube-proxy-s1" …): the kernel validates a whole table on
 * every commit that adds a jump, goto or NAT rule, so service chains are spread over tables of
 * bounded size (placement.ts). Table 0 is TABLE itself.
 */
export const SHARD_TABLE_PREFIX = `${TABLE}-s`;
export const MAX_SHARD_TABLES = 32;

export function shardTable(index: number): string {
  return index === 0 ? TABLE : `${SHARD_TABLE_PREFIX}${String(index)}`;
}

/** The shard index of one of our table names; undefined for any other table. */
export function shardIndexOf(table: string): number | undefined {
  if (table === TABLE) return 0;
  if (!table.startsWith(SHARD_TABLE_PREFIX)) return undefined;
  const n = Number(table.slice(SHARD_TABLE_PREFIX.length));
  return Number.isInteger(n) && n > 0 && n < MAX_SHARD_TABLES && `${SHARD_TABLE_PREFIX}${String(n)}` === table ? n : undefined;
}

// Base chains: "${type}-${hook}".
export const FILTER_PREROUTING_PRE_DNAT = 'filter-prerouting-pre-dnat';
export const FILTER_OUTPUT_PRE_DNAT = 'filter-output-pre-dnat';
export const FILTER_INPUT = 'filter-input';
export const FILTER_FORWARD = 'filter-forward';
export const FILTER_OUTPUT = 'filter-output';
export const NAT_PREROUTING = 'nat-prerouting';
export const NAT_OUTPUT = 'nat-output';
export const NAT_POSTROUTING = 'nat-postrouting';

// Regular top-level chains, sets and maps.
export const SERVICES_CHAIN = 'services';
export const SERVICE_IPS_MAP = 'service-ips';
export const SERVICE_NODEPORTS_MAP = 'service-nodeports';
export const NODEPORT_IPS_SET = 'nodeport-ips';
export const CLUSTER_IPS_SET = 'cluster-ips';
export const SERVICE_ENDPOINTS_CHECK_CHAIN = 'service-endpoints-check';
export const NODEPORT_ENDPOINTS_CHECK_CHAIN = 'nodeport-endpoints-check';
export const NO_ENDPOINT_SERVICES_MAP = 'no-endpoint-services';
export const NO_ENDPOINT_NODEPORTS_MAP = 'no-endpoint-nodeports';
export const REJECT_CHAIN = 'reject-chain';
export const CLUSTER_IPS_CHECK_CHAIN = 'cluster-ips-check';
export const FIREWALL_IPS_MAP = 'firewall-ips';
export const FIREWALL_CHECK_CHAIN = 'firewall-check';
export const MARK_MASQ_CHAIN = 'mark-for-masquerade';
export const MASQUERADING_CHAIN = 'masquerading';
/** Endpoint addresses as "ip . ip": a DNATed packet whose source is its destination hairpins. */
export const HAIRPIN_SET = 'hairpin-ips';
/**
 * Shared dispatch (render-service.ts), one map per protocol: "clusterIP . port . i" → endpoint
 * i's "ip . port", for the service ports whose only entry point is their ClusterIP; `lb-N`
 * chains pick i. Per protocol because a `typeof … th dport` map key conflicts with the
 * `tcp dport` nft 1.0.x reads back from the kernel once a rule depends on `meta l4proto tcp`
 * ("conflicting protocols specified: tcp vs. th"), which breaks every later transaction.
 */
export const BACKENDS_MAPS = { tcp: 'lb-backends-tcp', udp: 'lb-backends-udp', sctp: 'lb-backends-sctp' } as const;
export type BackendsProtocol = keyof typeof BACKENDS_MAPS;
export const BACKENDS_MAP_NAMES: readonly string[] = Object.values(BACKENDS_MAPS);
export const LB_CHAIN_PREFIX = 'lb-';

/** "lb-3": the shared chain that picks one of 3 endpoints. */
export function lbChain(endpoints: number): string {
  return `${LB_CHAIN_PREFIX}${String(endpoints)}`;
}

export function isLbChainName(name: string): boolean {
  return /^lb-\d+$/.test(name);
}

/** The sets/maps of TABLE whose elements the dataplane reconciles by diff. */
export const ELEMENT_CONTAINERS = [
  CLUSTER_IPS_SET, SERVICE_IPS_MAP, SERVICE_NODEPORTS_MAP, NO_ENDPOINT_SERVICES_MAP,
  NO_ENDPOINT_NODEPORTS_MAP, FIREWALL_IPS_MAP, BACKENDS_MAPS.tcp, BACKENDS_MAPS.udp, BACKENDS_MAPS.sctp,
] as const;
/** The same in an extra service table. */
export const SHARD_ELEMENT_CONTAINERS = [SERVICE_IPS_MAP, SERVICE_NODEPORTS_MAP, BACKENDS_MAPS.tcp, BACKENDS_MAPS.udp, BACKENDS_MAPS.sctp] as const;
export type ElementContainer = (typeof ELEMENT_CONTAINERS)[number];

export const CLUSTER_CHAIN_PREFIX = 'service-';
export const LOCAL_CHAIN_PREFIX = 'local-';
export const EXTERNAL_CHAIN_PREFIX = 'external-';
export const AFFINITY_SET_PREFIX = 'affinity-';
export const FIREWALL_CHAIN_PREFIX = 'firewall-';

/** knftables.NameLengthMax (256) minus the longest prefix we use, with its hyphen (16). */
export const CHAIN_NAME_BASE_LENGTH_MAX = 256 - 16;

/**
 * Prefix `name` with the first 8 base32 characters of its SHA-256, then truncate to
 * CHAIN_NAME_BASE_LENGTH_MAX (ending in "..."). hashAndTruncate("ns1/svc1/tcp/p80") is
 * "ULMVA6XW-ns1/svc1/tcp/p80".
 */
export function hashAndTruncate(name: string): string {
  const digest = createHash('sha256').update(name).digest();
  let out = `${base32(digest).slice(0, 8)}-${name}`;
  if (out.length > CHAIN_NAME_BASE_LENGTH_MAX) out = `${out.slice(0, CHAIN_NAME_BASE_LENGTH_MAX - 3)}...`;
  return out;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (the alphabet of Go's base32.StdEncoding), without padding. */
export function base32(bytes: Uint8Array): string {
  const out: string[] = [];
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out.push(B32.charAt((value >>> (bits - 5)) & 31));
      bits -= 5;
    }
  }
  if (bits > 0) out.push(B32.charAt((value << (5 - bits)) & 31));
  return out.join('');
}

/**
 * "HASH-namespace/name/protocol/portName", e.g. "ULMVA6XW-ns1/svc1/tcp/p80". Namespace,
 * service and port names only use [a-z0-9.-] (checked here again), so they are safe inside an
 * nft identifier; "/" separates them because no Kubernetes name can contain it.
 */
export function servicePortChainNameBase(spn: ServicePortName): string {
  const ns = safeName('namespace', spn.namespace);
  const name = safeName('service name', spn.name);
  const port = safePortName('port name', spn.port);
  return hashAndTruncate(`${ns}/${name}/${nftProtocol(spn.protocol)}/${port}`);
}

/**
 * "HASH-namespace/name/protocol/portName__endpointIP/endpointPort", e.g.
 * "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80": upstream's endpoint chain name, which we use for
 * the endpoint's session affinity set. IPv6 colons become dots (":" is not allowed in a name).
 * The IP must already have passed safeIP.
 */
export function endpointChainNameBase(spn: ServicePortName, ep: Pick<Endpoint, 'ip' | 'port'>): string {
  const ns = safeName('namespace', spn.namespace);
  const name = safeName('service name', spn.name);
  const port = safePortName('port name', spn.port);
  const ip = ep.ip.replaceAll(':', '.');
  return hashAndTruncate(`${ns}/${name}/${nftProtocol(spn.protocol)}/${port}__${ip}/${safePort('endpoint port', ep.port)}`);
}

/** upstream ServicePortName.String(): "ns/svc:port", or "ns/svc" for an unnamed port. */
export function servicePortNameString(spn: ServicePortName): string {
  return spn.port === '' ? `${spn.namespace}/${spn.name}` : `${spn.namespace}/${spn.name}:${spn.port}`;
}

/** Service-specific chains all contain a "/"; none of the fixed chains does. */
export function isServiceChainName(name: string): boolean {
  return name.includes('/');
}

export function isAffinitySetName(name: string): boolean {
  return name.startsWith(AFFINITY_SET_PREFIX);
}
