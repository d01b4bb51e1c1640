// The benchmark's API client: HTTPS with a keep-alive pool of `concurrency` connections, so
// bulk creation runs that many requests in parallel (as many controllers would), plus a small
// worker pool to drive it.

import { Agent, request } from 'node:https';
import type { KubeObject } from '../../test/lab/objects.ts';
import { collectionPath, objectPath } from '../../test/lab/objects.ts';

export interface BulkApiOptions {
  readonly url: string;
  readonly caPem: string;
  readonly token: string;
  readonly concurrency: number;
}

export class ApiStatusError extends Error {
  readonly code = 'BENCH_API';
  readonly status: number;
  constructor(method: string, path: string, status: number, body: string) {
    super(`${method} ${path}: HTTP ${String(status)}: ${body.slice(0, 300)}`);
    this.status = status;
  }
}

export class BulkApi {
  readonly #o: BulkApiOptions;
  readonly #agent: Agent;

  constructor(o: BulkApiOptions) {
    this.#o = o;
    this.#agent = new Agent({ keepAlive: true, ca: o.caPem, maxSockets: o.concurrency });
  }

  get concurrency(): number {
    return this.#o.concurrency;
  }

  close(): void {
    this.#agent.destroy();
  }

  request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.#o.url), {
        method, agent: this.#agent, timeout: 60_000,
        headers: {
          Authorization: `Bearer ${this.#o.token}`, Accept: 'application/json',
          ...(payload === undefined ? {} : { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }); });
        res.on('error', reject);
      });
      req.on('timeout', () => { req.destroy(new Error(`${method} ${path}: timed out`)); });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A write that must succeed; 429/5xx are retried a few times. */
  async #write<T>(method: string, path: string, body: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.request(method, path, body);
      if (r.status === 200 || r.status === 201) return JSON.parse(r.text) as T;
      if ((r.status === 429 || r.status >= 500) && attempt < 5) {
        await new Promise((res) => setTimeout(res, 100 * 2 ** attempt));
        continue;
      }
      throw new ApiStatusError(method, path, r.status, r.text);
    }
  }

  create<T extends KubeObject>(obj: T): Promise<T> {
    return this.#write<T>('POST', collectionPath(obj.kind, obj.metadata.namespace), obj);
  }

  /** PUT (the object carries its resourceVersion). */
  update<T extends KubeObject>(obj: T): Promise<T> {
    return this.#write<T>('PUT', objectPath(obj.kind, obj.metadata.namespace, obj.metadata.name), obj);
  }

  async delete(kind: KubeObject['kind'], namespace: string | undefined, name: string): Promise<void> {
    const path = objectPath(kind, namespace, name);
    const r = await this.request('DELETE', path);
    if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw new ApiStatusError('DELETE', path, r.status, r.text);
  }
}

/** Runs fn over items with at most `concurrency` in flight; results in input order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}
