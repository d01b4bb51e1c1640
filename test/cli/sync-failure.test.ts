// A sync the kernel refuses: logged with nft's error, counted, retried with backoff, /healthz
// failing after 2 × syncPeriod, the previous rules untouched — and recovery once the kernel
// accepts again. The refusal is real: another process owns the table (nft's `flags owner`),
// so the kernel answers our transaction with EPERM until that process exits.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canUseNetns, withNetns } from '../helpers/netns.ts';
import { until } from '../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');

describe('a sync the kernel refuses', { skip: !canUseNetns() && 'needs root for network namespaces' }, () => {
  it('is logged with the nft error, counted, retried, fails /healthz after 2 x syncPeriod, and recovers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-fail-'));
    try {
      await withNetns('syncfail', async (ns) => {
        // Another process takes the table first and holds it for as long as its stdin is open.
        const owner = ns.spawn('nft', ['-i'], { stdio: ['pipe', 'ignore', 'ignore'] });
        owner.stdin?.write('add table ip kube-proxy { flags owner; }\n');
        await until('the owned table', () => (ns.exec('nft', ['list', 'tables']).includes('table ip kube-proxy') ? true : undefined));

        const data = join(dir, 'state');
        const proc = ns.spawn(process.execPath, [BIN, '--control-plane-data-dir', data, '--control-plane-listen', '127.0.0.1:16443',
          '--hostname-override', 'node-a', '--iptables-sync-period', '2s', '--iptables-min-sync-period', '0s', '--logging-format', 'json']);
        let log = '';
        proc.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
        const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => { resolve(code); }));
        const healthz = (): string => ns.tryExec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:10256/healthz']).stdout;
        const metrics = (): string => ns.tryExec('curl', ['-s', 'http://127.0.0.1:10249/metrics']).stdout;
        try {
          const kubeconfig = join(data, 'kubeconfig');
          await until('kubeconfig', () => (existsSync(kubeconfig) ? true : undefined));
          await until('the metrics server', () => (metrics().includes('kubeproxy_') ? true : undefined));
          ns.exec('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', join(import.meta.dirname, '../../examples/my-service.yaml')]);

          // Failing: counted and logged with the kernel's answer.
          await until('a counted failure', () => (/kubeproxy_sync_proxy_rules_nftables_sync_failures_total\{ip_family="IPv4"\} [1-9]/.test(metrics()) ? true : undefined));
          await until('the nft error in the log', () => (log.includes('Operation not permitted') ? true : undefined), 5000);
          // Retried with backoff: several failures, not a tight loop.
          const started = Date.now();
          await until('/healthz 503 once the queued update is older than 2 x syncPeriod', () => (healthz() === '503' ? true : undefined), 15_000);
          assert.ok(Date.now() - started < 15_000);
          const failures = Number(/kubeproxy_sync_proxy_rules_nftables_sync_failures_total\{ip_family="IPv4"\} (\d+)/.exec(metrics())?.[1]);
          assert.ok(failures >= 2 && failures < 50, `retried with backoff (${failures} failures)`);
          assert.equal(proc.exitCode, null, 'the daemon keeps running');
          assert.ok(!ns.exec('nft', ['list', 'tables']).includes('kube-proxy\n\t'), 'nothing of ours was written into the owned table');

          // The owner goes away: the next retry succeeds and health comes back.
          owner.stdin?.end();
          await until('the service in the kernel', () => (ns.tryExec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']).stdout.includes('tcp . 80') ? true : undefined));
          await until('/healthz 200 again', () => (healthz() === '200' ? true : undefined));
          proc.kill('SIGTERM');
          assert.equal(await exited, 0, log);
        } finally {
          if (proc.exitCode === null) proc.kill('SIGKILL');
          if (owner.exitCode === null) owner.kill('SIGKILL');
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
