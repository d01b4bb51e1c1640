// The lab's control plane: the embedded API server started in this process on the root
// namespace's loopback (127.0.0.1, a free port), plus a unix-socket relay so that the node
// namespaces reach it (their agents listen on 127.0.0.1:6443 and relay to the socket) without
// any change to the root namespace's network configuration.

import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { startControlPlane, type ControlPlane } from '../../src/controlplane/index.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { ApiClient } from './api.ts';
import { SERVICE_CIDRS } from './topology.ts';

export class LabControlPlane {
  readonly dataDir: string;
  /** Unix socket relayed to the API server's TCP port. */
  readonly socketPath: string;
  readonly #logger: Logger;
  readonly #relay: Server;
  readonly #relayed = new Set<Socket>();
  #plane: ControlPlane | undefined;
  #port: number;
  readonly api: ApiClient;

  private constructor(dataDir: string, socketPath: string, logger: Logger, relay: Server, plane: ControlPlane) {
    this.dataDir = dataDir;
    this.socketPath = socketPath;
    this.#logger = logger;
    this.#relay = relay;
    this.#plane = plane;
    this.#port = plane.port;
    this.api = new ApiClient({ url: plane.url, caPem: plane.caPem, token: plane.token });
  }

  static async start(dir: string): Promise<LabControlPlane> {
    const logger = createLogger({ format: 'json', destination: pino.destination({ dest: join(dir, 'control-plane.log'), sync: true }) });
    const dataDir = join(dir, 'control-plane');
    const plane = await startControlPlane({ dataDir, listen: '127.0.0.1:0', serviceCIDRs: [...SERVICE_CIDRS], logger, fsync: false });
    const socketPath = join(dir, 'api.sock');
    rmSync(socketPath, { force: true });
    const ref: { cp?: LabControlPlane } = {};
    const relay = createServer((inbound) => {
      if (ref.cp) ref.cp.#relay1(inbound);
      else inbound.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      relay.listen(socketPath, () => { resolve(); });
    });
    const cp = new LabControlPlane(dataDir, socketPath, logger, relay, plane);
    ref.cp = cp;
    return cp;
  }

  #relay1(inbound: Socket): void {
    const outbound = connect({ host: '127.0.0.1', port: this.#port });
    this.#relayed.add(inbound);
    inbound.pipe(outbound).pipe(inbound);
    const end = (): void => {
      inbound.destroy();
      outbound.destroy();
      this.#relayed.delete(inbound);
    };
    inbound.on('error', end);
    outbound.on('error', end);
    inbound.on('close', end);
    outbound.on('close', end);
  }

  get plane(): ControlPlane {
    if (this.#plane === undefined) throw new Error('the control plane is stopped');
    return this.#plane;
  }

  get caPem(): string {
    return this.plane.caPem;
  }

  get token(): string {
    return this.plane.token;
  }

  get url(): string {
    return this.plane.url;
  }

  /**
   * Stops the API server, runs `meanwhile` against a second instance on the same data dir and
   * another port (the proxies cannot reach it), then brings the API server back on its port.
   */
  async restartWithChanges(meanwhile: (api: ApiClient) => Promise<void>, downMs = 0): Promise<void> {
    const port = this.#port;
    await this.plane.close();
    this.#plane = undefined;
    const temp = await startControlPlane({
      dataDir: this.dataDir, listen: '127.0.0.1:0', serviceCIDRs: [...SERVICE_CIDRS], logger: this.#logger,
      fsync: false, kubeconfigOut: join(this.dataDir, 'kubeconfig.meanwhile'),
    });
    const api = new ApiClient({ url: temp.url, caPem: temp.caPem, token: temp.token });
    try {
      await meanwhile(api);
    } finally {
      api.close();
      await temp.close();
    }
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    this.#plane = await startControlPlane({ dataDir: this.dataDir, listen: `127.0.0.1:${port}`, serviceCIDRs: [...SERVICE_CIDRS], logger: this.#logger, fsync: false });
  }

  async close(): Promise<void> {
    this.api.close();
    for (const s of this.#relayed) s.destroy();
    await new Promise<void>((resolve) => { this.#relay.close(() => { resolve(); }); });
    await this.#plane?.close();
    this.#plane = undefined;
  }
}
