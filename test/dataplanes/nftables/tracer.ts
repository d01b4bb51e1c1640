// A packet tracer over the structured ruleset (after upstream's helpers_test.go): walks a new
// connection through our chains, following map lookups, jumps, masquerade marks, DNAT, drop
// and reject, across every table (TABLE and any extra service tables, whose nat chains run in
// turn until one DNATs). The probability cascade is walked branch by branch: a rule
// "numgen random mod K 0 …" both matches (its DNAT is one possible output) and does not (the
// walk goes on), so the output lists every endpoint a connection can reach; so does a DNAT
// through the backends map (every index numgen can draw). Hairpin masquerade
// is checked as postrouting does: a DNAT to the source itself, with "ip . ip" in the hairpin
// set. It understands exactly the rule shapes the renderer writes and fails on anything else.

import assert from 'node:assert/strict';
import ipaddr from 'ipaddr.js';
import { HAIRPIN_SET, TABLE } from '../../../src/dataplanes/nftables/names.ts';
import { hairpinKey, objId, type FamilyRuleset, type NftChain, type NftElement } from '../../../src/dataplanes/nftables/ruleset.ts';

export interface TraceResult {
  /** "10.180.0.1:80, 10.180.2.1:80", "DROP", "REJECT", or "" when nothing matched. */
  readonly output: string;
  readonly masq: boolean;
  readonly matches: readonly string[];
}

function addrMatches(ip: string, spec: string): boolean {
  return spec.replaceAll(' ', '').split(',').filter((s) => s !== '').some((s) => {
    if (s.includes('/')) {
      const [range, bits] = ipaddr.parseCIDR(s);
      const a = ipaddr.parse(ip);
      return a.kind() === range.kind() && a.match([range, bits]);
    }
    return ipaddr.parse(ip).toString() === ipaddr.parse(s).toString();
  });
}

const RE = {
  destIPOnlyLookup: /^ip6? daddr @(\S+)/,
  destDispatch: /^ip6? daddr \. meta l4proto \. th dport vmap @(\S+)$/,
  destPortDispatch: /^meta l4proto \. th dport vmap @(\S+)$/,
  destAddrSet: /^ip6? daddr (!= )?\{([^}]*)\}/,
  destAddr: /^ip6? daddr (!= )?(\S+)/,
  destLocal: /^fib daddr type local/,
  srcAddrLookup: /^ip6? saddr @(\S+)/,
  srcAddrSet: /^ip6? saddr (!= )?\{([^}]*)\}/,
  srcAddr: /^ip6? saddr (!= )?(\S+)/,
  srcLocal: /^fib saddr type local/,
  iifname: /^iifname (!= )?"([^"]*)"/,
  masq: /^jump mark-for-masquerade$/,
  jump: /^(jump|goto) (\S+)$/,
  verdict: /^(drop|reject)$/,
  update: /^update @\S+ \{ ip6? saddr \}/,
  dnat: /^meta l4proto (tcp|udp|sctp) dnat to (\S+)$/,
  dnatMap: /^meta l4proto (tcp|udp|sctp) dnat ip6? to ip6? daddr \. (tcp|udp|sctp) dport \. numgen random mod (\d+) map @(\S+)$/,
  numgen: /^numgen random mod \d+ 0 /,
  ignored: / *comment "[^"]*"$|^ct state new/g,
};

type Outcome = 'continue' | 'terminal' | 'return';

export class Tracer {
  readonly #chains = new Map<string, NftChain>();
  readonly #elements = new Map<string, NftElement[]>();
  readonly #hairpin = new Set<string>();
  readonly #nodeIPs: ReadonlySet<string>;
  readonly tables: readonly string[];
  matches: string[] = [];
  outputs: string[] = [];
  masq = false;
  iifname = 'eth0';

  constructor(rs: FamilyRuleset, nodeIPs: readonly string[]) {
    this.#nodeIPs = new Set(nodeIPs);
    this.tables = rs.tables.map((t) => t.name);
    const addEl = (e: NftElement): void => {
      const id = objId(e.table, e.set);
      const list = this.#elements.get(id) ?? [];
      list.push(e);
      this.#elements.set(id, list);
    };
    for (const t of rs.tables) {
      for (const c of t.chains) this.#chains.set(objId(c.table ?? t.name, c.name), c);
      for (const e of t.elements) addEl(e);
    }
    for (const frag of rs.services.values()) {
      for (const c of frag.chains) this.#chains.set(objId(c.table, c.name), c);
      for (const e of frag.elements) addEl(e);
      for (const ip of frag.hairpin) this.#hairpin.add(hairpinKey(ip));
    }
  }

  hasChain(table: string, name: string): boolean {
    return this.#chains.has(objId(table, name));
  }

  #lookup(table: string, set: string, key: readonly string[]): NftElement | undefined {
    return (this.#elements.get(objId(table, set)) ?? []).find((e) => e.key.length === key.length && e.key.every((k, i) => k === key[i]));
  }

  /** Evaluates one rule (or what is left of it); `branch` marks a numgen alternative. */
  #rule(table: string, full: string, text: string, src: string, proto: string, dst: string, dport: string): Outcome {
    let rule = text;
    while (rule !== '') {
      rule = rule.trimStart();
      let m: RegExpExecArray | null;
      if ((m = RE.numgen.exec(rule))) {
        // One branch takes this rule; the other goes on to the next one.
        this.#rule(table, full, rule.slice(m[0].length), src, proto, dst, dport);
        return 'continue';
      } else if ((m = RE.destDispatch.exec(rule))) {
        rule = this.#lookup(table, m[1] ?? '', [dst, proto, dport])?.value ?? '';
      } else if ((m = RE.destPortDispatch.exec(rule))) {
        rule = this.#lookup(table, m[1] ?? '', [proto, dport])?.value ?? '';
      } else if ((m = RE.destIPOnlyLookup.exec(rule))) {
        rule = this.#lookup(table, m[1] ?? '', [dst]) ? rule.slice(m[0].length) : '';
      } else if ((m = RE.destAddrSet.exec(rule)) ?? (m = RE.destAddr.exec(rule))) {
        rule = addrMatches(dst, m[2] ?? '') === (m[1] === undefined) ? rule.slice(m[0].length) : '';
      } else if ((m = RE.destLocal.exec(rule))) {
        rule = this.#nodeIPs.has(dst) ? rule.slice(m[0].length) : '';
      } else if (RE.srcAddrLookup.test(rule)) {
        rule = ''; // affinity sets start empty
      } else if ((m = RE.srcAddrSet.exec(rule)) ?? (m = RE.srcAddr.exec(rule))) {
        rule = addrMatches(src, m[2] ?? '') === (m[1] === undefined) ? rule.slice(m[0].length) : '';
      } else if ((m = RE.srcLocal.exec(rule))) {
        rule = this.#nodeIPs.has(src) ? rule.slice(m[0].length) : '';
      } else if ((m = RE.iifname.exec(rule))) {
        const pat = m[2] ?? '';
        const hit = pat.endsWith('*') ? this.iifname.startsWith(pat.slice(0, -1)) : this.iifname === pat;
        rule = hit === (m[1] === undefined) ? rule.slice(m[0].length) : '';
      } else if (RE.masq.test(rule)) {
        this.matches.push(full);
        this.masq = true;
        rule = '';
      } else if ((m = RE.jump.exec(rule))) {
        this.matches.push(full);
        const terminated = this.runChain(table, m[2] ?? '', src, proto, dst, dport);
        if (terminated) return 'terminal';
        return m[1] === 'goto' ? 'return' : 'continue';
      } else if ((m = RE.verdict.exec(rule))) {
        this.matches.push(full);
        this.outputs.push((m[1] ?? '').toUpperCase());
        return 'terminal';
      } else if ((m = RE.update.exec(rule))) {
        rule = rule.slice(m[0].length);
      } else if ((m = RE.dnatMap.exec(rule))) {
        if (m[1] !== proto) return 'continue';
        assert.equal(m[2], proto, `dport of another protocol in "${full}"`);
        // Every index numgen can draw is one possible output (the map is per protocol).
        for (let i = 0; i < Number(m[3]); i++) {
          const value = this.#lookup(table, m[4] ?? '', [dst, dport, String(i)])?.value;
          assert.ok(value !== undefined, `no backend ${String(i)} for ${dst}:${dport} in ${m[4] ?? ''}`);
          const [ip = '', port = ''] = value.split(' . ');
          this.matches.push(full);
          this.outputs.push(ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
        }
        return 'terminal';
      } else if ((m = RE.dnat.exec(rule))) {
        this.matches.push(full);
        this.outputs.push(m[2] ?? '');
        return 'terminal';
      } else {
        assert.fail(`tracer: unmatched rule "${full}" at "${rule}"`);
      }
    }
    return 'continue';
  }

  /** Returns true when the packet reached a terminal verdict. */
  runChain(table: string, name: string, src: string, proto: string, dst: string, dport: string): boolean {
    const chain = this.#chains.get(objId(table, name));
    assert.ok(chain, `unknown chain ${table} ${name}`);
    for (const full of chain.rules) {
      const out = this.#rule(table, full, full.replace(RE.ignored, ''), src, proto, dst, dport);
      if (out === 'terminal') return true;
      if (out === 'return') return false;
    }
    return false;
  }

  /** Postrouting's hairpin check for each DNAT output. */
  hairpinCheck(src: string): void {
    for (const o of this.outputs) {
      const host = hostOf(o);
      if (host === src && this.#hairpin.has(hairpinKey(host))) {
        const rule = this.#chains.get(objId(TABLE, 'masquerading'))?.rules[0] ?? '';
        assert.ok(rule.includes(`@${HAIRPIN_SET}`), 'masquerading checks the hairpin set first');
        this.matches.push(`hairpin ${host}`);
        this.masq = true;
      }
    }
  }
}

function hostOf(endpoint: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(endpoint) ?? /^(.*):\d+$/.exec(endpoint);
  return m?.[1] ?? endpoint;
}

/** Trace a new connection from src to dst:dport (protocol lowercase) through the ruleset. */
export function tracePacket(rs: FamilyRuleset, nodeIPs: readonly string[], src: string, proto: string, dst: string, dport: number, iifname = 'eth0'): TraceResult {
  const t = new Tracer(rs, nodeIPs);
  t.iifname = iifname;
  const port = String(dport);
  const done = (): TraceResult => ({ output: t.outputs.join(', '), masq: t.masq, matches: t.matches });
  if (t.runChain(TABLE, 'filter-prerouting-pre-dnat', src, proto, dst, port)) return done();
  for (const table of t.tables) {
    t.runChain(table, 'nat-prerouting', src, proto, dst, port);
    if (t.outputs.length > 0) break;
  }
  t.hairpinCheck(src);
  const [first] = t.outputs;
  const afterDnat = first !== undefined ? hostOf(first) : dst;
  if (t.runChain(TABLE, 'filter-forward', src, proto, afterDnat, port)) return done();
  t.runChain(TABLE, 'filter-input', src, proto, afterDnat, port);
  return done();
}

export interface FlowTest {
  readonly name: string;
  readonly src: string;
  readonly dst: string;
  readonly port: number;
  readonly proto?: 'tcp' | 'udp' | 'sctp';
  readonly output: string;
  readonly masq?: boolean;
  readonly iifname?: string;
}

export function assertFlows(rs: FamilyRuleset, nodeIPs: readonly string[], flows: readonly FlowTest[]): void {
  for (const f of flows) {
    const r = tracePacket(rs, nodeIPs, f.src, f.proto ?? 'tcp', f.dst, f.port, f.iifname);
    const why = `${f.name}: ${f.src} -> ${f.dst}:${String(f.port)}\nmatched:\n  ${r.matches.join('\n  ')}`;
    assert.equal(r.output, f.output, `wrong output; ${why}`);
    if (f.output !== 'DROP' && f.output !== 'REJECT' && f.output !== '') assert.equal(r.masq, f.masq ?? false, `wrong masq; ${why}`);
  }
}
