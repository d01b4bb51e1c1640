// Shared golden data: upstream's baseRules and the services of TestOverallNFTablesRules, with
// our differences (README "Deliberate differences from upstream"): the hairpin set and its
// check in masquerading, the backends map of the shared lb chains.

import { dedent } from './golden.ts';
import { local, makeEndpoint, makePort, makeSnapshot } from './fixtures.ts';

export const BASE_RULES = dedent(`
  add table ip kube-proxy { comment "rules for kube-proxy" ; }

  add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
  add set ip kube-proxy hairpin-ips { type ipv4_addr . ipv4_addr ; comment "Endpoint addresses: DNATed to itself means hairpin" ; }
  add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }

  add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
  add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
  add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
  add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
  add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
  add map ip kube-proxy lb-backends-tcp { typeof ip daddr . tcp dport . numgen random mod 2 : ip daddr . tcp dport ; comment "ClusterIP . port . index: endpoint of an lb chain (tcp)" ; }
  add map ip kube-proxy lb-backends-udp { typeof ip daddr . udp dport . numgen random mod 2 : ip daddr . udp dport ; comment "ClusterIP . port . index: endpoint of an lb chain (udp)" ; }
  add map ip kube-proxy lb-backends-sctp { typeof ip daddr . sctp dport . numgen random mod 2 : ip daddr . sctp dport ; comment "ClusterIP . port . index: endpoint of an lb chain (sctp)" ; }

  add chain ip kube-proxy cluster-ips-check
  add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }
  add chain ip kube-proxy filter-output-pre-dnat { type filter hook output priority -110 ; }
  add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }
  add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }
  add chain ip kube-proxy filter-output { type filter hook output priority 0 ; }
  add chain ip kube-proxy firewall-check
  add chain ip kube-proxy mark-for-masquerade
  add chain ip kube-proxy masquerading
  add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
  add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
  add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
  add chain ip kube-proxy nodeport-endpoints-check
  add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
  add chain ip kube-proxy services
  add chain ip kube-proxy service-endpoints-check

  add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
  add rule ip kube-proxy cluster-ips-check ip daddr { 172.30.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"
  add rule ip kube-proxy filter-prerouting-pre-dnat ct state new jump firewall-check
  add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
  add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
  add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
  add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
  add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
  add rule ip kube-proxy filter-output-pre-dnat ct state new jump firewall-check
  add rule ip kube-proxy filter-output ct state new jump cluster-ips-check
  add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
  add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
  add rule ip kube-proxy masquerading ct status dnat ip saddr . ip daddr @hairpin-ips jump mark-for-masquerade
  add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
  add rule ip kube-proxy masquerading mark set mark xor 0x4000
  add rule ip kube-proxy masquerading masquerade fully-random
  add rule ip kube-proxy nat-output jump services
  add rule ip kube-proxy nat-postrouting jump masquerading
  add rule ip kube-proxy nat-prerouting jump services
  add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
  add rule ip kube-proxy reject-chain reject
  add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
  add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports

  add element ip kube-proxy nodeport-ips { 192.168.0.2 }
  add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
`);

/** The six services of upstream's TestOverallNFTablesRules. */
export function overallSnapshot(): ReturnType<typeof makeSnapshot> {
  return makeSnapshot({ ports: [
    [makePort('ns1', 'svc1', 'p80', (s) => { s.clusterIP = '172.30.0.41'; }), [makeEndpoint('10.180.0.1', 80)]],
    [makePort('ns2', 'svc2', 'p80', (s) => {
      s.clusterIP = '172.30.0.42'; s.nodePort = 3001; s.externalPolicyLocal = true; s.healthCheckNodePort = 30000;
      s.loadBalancerVIPs = ['1.2.3.4']; s.externalIPs = ['192.168.99.22'];
    }), [makeEndpoint('10.180.0.2', 80)]],
    [makePort('ns3', 'svc3', 'p80', (s) => { s.clusterIP = '172.30.0.43'; s.nodePort = 3003; }), [makeEndpoint('10.180.0.3', 80)]],
    [makePort('ns4', 'svc4', 'p80', (s) => { s.clusterIP = '172.30.0.44'; s.externalIPs = ['192.168.99.33']; }),
      [makeEndpoint('10.180.0.4', 80), makeEndpoint('10.180.0.5', 80, local)]],
    [makePort('ns5', 'svc5', 'p80', (s) => {
      s.clusterIP = '172.30.0.45'; s.nodePort = 3002; s.loadBalancerVIPs = ['5.6.7.8']; s.healthCheckNodePort = 30000;
      s.loadBalancerSourceRanges = ['203.0.113.0/25']; s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: 10800 };
    }), [makeEndpoint('10.180.0.3', 80)]],
    [makePort('ns6', 'svc6', 'p80', (s) => { s.clusterIP = '172.30.0.46'; }), []],
  ] });
}
