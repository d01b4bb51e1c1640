import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KUBE_PROXY_FLAGS } from '../../../src/cli/config/flags.ts';
import { KUBE_PROXY_TS_VERSION } from '../../../src/cli/config/load.ts';
import { load } from './helpers.ts';

function help(argv: readonly string[] = ['--help']): string {
  const r = load(argv);
  if (r.kind !== 'help') assert.fail(`expected help, got ${r.kind}`);
  return r.text;
}

// Upstream defaults as pflag prints them (kube-proxy --help), plus ours.
const DEFAULTS: [flag: string, shown: string][] = [
  ['bind-address', '(default 0.0.0.0)'],
  ['config-sync-period', '(default 15m0s)'],
  ['conntrack-max-per-core', '(default 32768)'],
  ['conntrack-min', '(default 131072)'],
  ['conntrack-tcp-timeout-close-wait', '(default 1h0m0s)'],
  ['conntrack-tcp-timeout-established', '(default 24h0m0s)'],
  ['healthz-bind-address', '(default 0.0.0.0:10256)'],
  ['iptables-localhost-nodeports', '(default true)'],
  ['iptables-masquerade-bit', '(default 14)'],
  ['iptables-min-sync-period', '(default 1s)'],
  ['iptables-sync-period', '(default 30s)'],
  ['kube-api-burst', '(default 10)'],
  ['kube-api-content-type', '(default "application/vnd.kubernetes.protobuf")'],
  ['kube-api-qps', '(default 5)'],
  ['log-flush-frequency', '(default 5s)'],
  ['metrics-bind-address', '(default 127.0.0.1:10249)'],
  ['oom-score-adj', '(default -999)'],
  ['proxy-mode', '(default nftables)'],
  ['userspace-algorithm', '(default "round-robin")'],
  ['userspace-threads', '(default 1)'],
  ['control-plane-listen', '(default 127.0.0.1:6443)'],
  ['control-plane-data-dir', '(default "/home/test/.local/state/kube-proxy-ts")'],
  ['control-plane-service-cidr', '(default "10.96.0.0/12")'],
];

describe('--help', () => {
  it('is selected by --help, -h and -help', () => {
    assert.equal(help(['-h']), help());
    assert.equal(help(['-help']), help());
    assert.equal(load(['--help=false']).kind, 'run');
  });

  it('wins over --version and over configuration errors', () => {
    help(['--version', '--help']);
    help(['--help', '--proxy-mode=ipvs', '--config=/does/not/exist']);
  });

  it('lists every flag, one line each, in pflag layout', () => {
    const text = help();
    const lines = text.split('\n');
    for (const f of KUBE_PROXY_FLAGS) {
      const start = f.shorthand === undefined ? `      --${f.name}` : `  -${f.shorthand}, --${f.name}`;
      const line = lines.find((l) => l.startsWith(`${start} `));
      assert.ok(line, `--${f.name} missing from help`);
      assert.ok(line.includes(f.usage.split('\n')[0] ?? ''), `--${f.name}: usage text missing`);
    }
    const usageColumn = new Set(lines.filter((l) => /^ {2}(-\w, | {4})--/.test(l)).map((l) => /^ *\S.*? {3,}(?=\S)/.exec(l)?.[0].length));
    assert.equal(usageColumn.size, 1, 'usage texts are aligned in one column');
    assert.match(text, /\nUsage:\n {2}kube-proxy-ts \[flags\]\n\nFlags:\n/);
  });

  for (const [flag, shown] of DEFAULTS) {
    it(`shows --${flag} ${shown}`, () => {
      const line = help().split('\n').find((l) => l.includes(`--${flag} `));
      assert.ok(line?.includes(shown), `line: ${line ?? '(none)'}`);
    });
  }

  it('shows no default for zero values, and marks deprecated flags', () => {
    const lines = help().split('\n');
    const cleanup = lines.find((l) => l.includes('--cleanup '));
    assert.ok(cleanup !== undefined && !cleanup.includes('(default'));
    assert.match(lines.find((l) => l.includes('--healthz-port ')) ?? '', /\(DEPRECATED: /);
  });
});

describe('--version', () => {
  it('prints the version and wins over configuration errors', () => {
    const r = load(['--version', '--config=/does/not/exist']);
    assert.ok(r.kind === 'version');
    assert.equal(r.text, `kube-proxy-ts v${KUBE_PROXY_TS_VERSION}\n`);
  });

  it('--version=raw prints JSON', () => {
    const r = load(['--version=raw']);
    assert.ok(r.kind === 'version');
    assert.equal((JSON.parse(r.text) as { gitVersion: string }).gitVersion, `v${KUBE_PROXY_TS_VERSION}`);
  });

  it('--version=false runs', () => {
    assert.equal(load(['--version=false']).kind, 'run');
  });

  it('matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(KUBE_PROXY_TS_VERSION, pkg.version);
  });
});
