// The benchmark's API client: HTTPS with a keep-alive pool of `concurrency` connections, so
// bulk creation runs that many requests in parallel (as many controllers would), plus a small
// worker pool to drive it.

import { ApiClient } from '../../test/lab/api.ts';
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
  readonly #client: ApiClient;

  constructor(o: BulkApiOptions) {
    this.#o = o;
    this.#client = new ApiClient(o, { maxSockets: o.concurrency, timeoutMs: 60_000 });
  }

  get concurrency(): number {
    return this.#o.concurrency;
  }

  close(): void {
    this.#client.close();
  }

  request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    return this.#client.request(method, path, body, method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
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
