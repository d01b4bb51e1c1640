// Golden rulesets, ported from upstream pkg/proxy/nftables/proxier_test.go and changed where our
// layout deliberately differs (shared lb chains and the probability cascade instead of endpoint
// chains; the hairpin set).

import { describe, it } from 'node:test';
import { renderFamily } from '../../../src/dataplanes/nftables/render.ts';
import { dumpRuleset } from '../../../src/dataplanes/nftables/ruleset.ts';
import { assertNftEqual, dedent } from './golden.ts';
import { makeSnapshot, testOptions } from './fixtures.ts';
import { BASE_RULES, overallSnapshot } from './golden-data.ts';

describe('nftables golden rulesets', () => {
  it('renders the base table with no services', () => {
    const rs = renderFamily(makeSnapshot({ ports: [] }), testOptions());
    assertNftEqual(dumpRuleset(rs), BASE_RULES);
  });

  it('TestOverallNFTablesRules: ClusterIP, LoadBalancer Local, NodePort, ExternalIP, LB with source ranges and affinity, no endpoints', () => {
    const rs = renderFamily(overallSnapshot(), testOptions());
    const expected = BASE_RULES + dedent(`
      # svc1: reachable only through its ClusterIP, no affinity: no chain of its own; the
      # shared lb chain for one endpoint DNATs through the backends map (upstream: a service
      # chain with a numgen vmap to one chain per endpoint); hairpin is the hairpin-ips element
      add chain ip kube-proxy lb-1
      add rule ip kube-proxy lb-1 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
      add rule ip kube-proxy lb-1 meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 1 map @lb-backends-tcp
      add rule ip kube-proxy lb-1 meta l4proto udp dnat ip to ip daddr . udp dport . numgen random mod 1 map @lb-backends-udp
      add rule ip kube-proxy lb-1 meta l4proto sctp dnat ip to ip daddr . sctp dport . numgen random mod 1 map @lb-backends-sctp
      add element ip kube-proxy lb-backends-tcp { 172.30.0.41 . 80 . 0 : 10.180.0.1 . 80 }
      add element ip kube-proxy hairpin-ips { 10.180.0.1 . 10.180.0.1 }
      add element ip kube-proxy cluster-ips { 172.30.0.41 }
      add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto lb-1 }

      # svc2: external entry points keep per-port chains; the probability cascade DNATs in the
      # service chain (upstream: a numgen vmap to one chain per endpoint)
      add chain ip kube-proxy service-42NFTM6N-ns2/svc2/tcp/p80
      add rule ip kube-proxy service-42NFTM6N-ns2/svc2/tcp/p80 ip daddr 172.30.0.42 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
      add rule ip kube-proxy service-42NFTM6N-ns2/svc2/tcp/p80 meta l4proto tcp dnat to 10.180.0.2:80
      add chain ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80
      add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 ip saddr 10.0.0.0/8 goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit pod traffic"
      add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"
      add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 fib saddr type local goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit local traffic"
      add element ip kube-proxy hairpin-ips { 10.180.0.2 . 10.180.0.2 }
      add element ip kube-proxy cluster-ips { 172.30.0.42 }
      add element ip kube-proxy service-ips { 172.30.0.42 . tcp . 80 : goto service-42NFTM6N-ns2/svc2/tcp/p80 }
      add element ip kube-proxy service-ips { 192.168.99.22 . tcp . 80 : goto external-42NFTM6N-ns2/svc2/tcp/p80 }
      add element ip kube-proxy service-ips { 1.2.3.4 . tcp . 80 : goto external-42NFTM6N-ns2/svc2/tcp/p80 }
      add element ip kube-proxy service-nodeports { tcp . 3001 : goto external-42NFTM6N-ns2/svc2/tcp/p80 }
      add element ip kube-proxy no-endpoint-nodeports { tcp . 3001 comment "ns2/svc2:p80" : drop }
      add element ip kube-proxy no-endpoint-services { 1.2.3.4 . tcp . 80 comment "ns2/svc2:p80" : drop }
      add element ip kube-proxy no-endpoint-services { 192.168.99.22 . tcp . 80 comment "ns2/svc2:p80" : drop }

      # svc3
      add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
      add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
      add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 meta l4proto tcp dnat to 10.180.0.3:80
      add chain ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80
      add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 jump mark-for-masquerade
      add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 goto service-4AT6LBPK-ns3/svc3/tcp/p80
      add element ip kube-proxy hairpin-ips { 10.180.0.3 . 10.180.0.3 }
      add element ip kube-proxy cluster-ips { 172.30.0.43 }
      add element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 }
      add element ip kube-proxy service-nodeports { tcp . 3003 : goto external-4AT6LBPK-ns3/svc3/tcp/p80 }

      # svc4: two endpoints, each with probability 1/2
      add chain ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80
      add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 ip daddr 172.30.0.44 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
      add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 numgen random mod 2 0 meta l4proto tcp dnat to 10.180.0.4:80
      add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 meta l4proto tcp dnat to 10.180.0.5:80
      add chain ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80
      add rule ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80 jump mark-for-masquerade
      add rule ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80 goto service-LAUZTJTB-ns4/svc4/tcp/p80
      add element ip kube-proxy hairpin-ips { 10.180.0.4 . 10.180.0.4 }
      add element ip kube-proxy hairpin-ips { 10.180.0.5 . 10.180.0.5 }
      add element ip kube-proxy cluster-ips { 172.30.0.44 }
      add element ip kube-proxy service-ips { 172.30.0.44 . tcp . 80 : goto service-LAUZTJTB-ns4/svc4/tcp/p80 }
      add element ip kube-proxy service-ips { 192.168.99.33 . tcp . 80 : goto external-LAUZTJTB-ns4/svc4/tcp/p80 }

      # svc5: affinity lookup and update inline, per endpoint set as upstream
      add set ip kube-proxy affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
      add chain ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80
      add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 ip daddr 172.30.0.45 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
      add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 update @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { ip saddr } meta l4proto tcp dnat to 10.180.0.3:80
      add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 update @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { ip saddr } meta l4proto tcp dnat to 10.180.0.3:80
      add chain ip kube-proxy external-HVFWP5L3-ns5/svc5/tcp/p80
      add rule ip kube-proxy external-HVFWP5L3-ns5/svc5/tcp/p80 jump mark-for-masquerade
      add rule ip kube-proxy external-HVFWP5L3-ns5/svc5/tcp/p80 goto service-HVFWP5L3-ns5/svc5/tcp/p80
      add chain ip kube-proxy firewall-HVFWP5L3-ns5/svc5/tcp/p80
      add rule ip kube-proxy firewall-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr != { 203.0.113.0/25 } drop
      add element ip kube-proxy cluster-ips { 172.30.0.45 }
      add element ip kube-proxy service-ips { 172.30.0.45 . tcp . 80 : goto service-HVFWP5L3-ns5/svc5/tcp/p80 }
      add element ip kube-proxy service-ips { 5.6.7.8 . tcp . 80 : goto external-HVFWP5L3-ns5/svc5/tcp/p80 }
      add element ip kube-proxy service-nodeports { tcp . 3002 : goto external-HVFWP5L3-ns5/svc5/tcp/p80 }
      add element ip kube-proxy firewall-ips { 5.6.7.8 . tcp . 80 : goto firewall-HVFWP5L3-ns5/svc5/tcp/p80 }

      # svc6
      add element ip kube-proxy cluster-ips { 172.30.0.46 }
      add element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain }
    `);
    assertNftEqual(dumpRuleset(rs), expected);
  });
});
