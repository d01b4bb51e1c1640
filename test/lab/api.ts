// A small typed client for the control plane's HTTPS API (bearer token + the control plane's
// CA): every object the lab creates goes through the real API path, as a controller's would.

import { Agent, request } from 'node:https';
import { collectionPath, objectPath, type KubeObject, type Service } from './objects.ts';

export class ApiError extends Error {
  readonly code = 'LAB_API';
  readonly status: number;
  readonly body: string;

  constructor(method: string, path: string, status: number, body: string) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 500)}`);
    this.status = status;
    this.body = body;
  }
}

export interface ApiTarget {
  readonly url: string;
  readonly caPem: string;
  readonly token: string;
}

type Kind = KubeObject['kind'];
type ObjectOf<K extends Kind> = Extract<KubeObject, { kind: K }>;

export class ApiClient {
  readonly #target: ApiTarget;
  readonly #agent: Agent;

  readonly #timeoutMs: number;

  /** `maxSockets` parallel requests (keep-alive pool), each with a `timeoutMs` deadline. */
  constructor(target: ApiTarget, opts: { readonly maxSockets?: number; readonly timeoutMs?: number } = {}) {
    this.#target = target;
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
    this.#agent = new Agent({ keepAlive: true, ca: target.caPem, maxSockets: opts.maxSockets ?? 8 });
  }

  close(): void {
    this.#agent.destroy();
  }

  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.#target.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method, agent: this.#agent, timeout: this.#timeoutMs,
        headers: {
          Authorization: `Bearer ${this.#target.token}`, Accept: 'application/json',
          ...(payload === undefined ? {} : { 'Content-Type': contentType }),
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

  async #call<T>(method: string, path: string, body?: unknown, contentType?: string, ok: readonly number[] = [200, 201]): Promise<T> {
    const r = await this.request(method, path, body, contentType);
    if (!ok.includes(r.status)) throw new ApiError(method, path, r.status, r.text);
    return JSON.parse(r.text) as T;
  }

  create<T extends KubeObject>(obj: T): Promise<T> {
    return this.#call<T>('POST', collectionPath(obj.kind, obj.metadata.namespace), obj);
  }

  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<ObjectOf<K>> {
    return this.#call<ObjectOf<K>>('GET', objectPath(kind, namespace, name));
  }

  async list<K extends Kind>(kind: K, namespace?: string): Promise<ObjectOf<K>[]> {
    const r = await this.#call<{ items: ObjectOf<K>[] }>('GET', collectionPath(kind, namespace));
    return r.items;
  }

  /** PUT with the current resourceVersion (read first); creates the object if it is missing. */
  async apply<T extends KubeObject>(obj: T): Promise<T> {
    const ns = obj.metadata.namespace;
    let current: KubeObject;
    try {
      current = await this.get(obj.kind, ns, obj.metadata.name);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return this.create(obj);
      throw err;
    }
    const next = { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion ?? '' } };
    return this.#call<T>('PUT', objectPath(obj.kind, ns, obj.metadata.name), next);
  }

  /** JSON merge patch (RFC 7386). */
  patch<K extends Kind>(kind: K, namespace: string | undefined, name: string, patch: unknown): Promise<ObjectOf<K>> {
    return this.#call<ObjectOf<K>>('PATCH', objectPath(kind, namespace, name), patch, 'application/merge-patch+json');
  }

  /** Deletes; a missing object is not an error. */
  async delete(kind: Kind, namespace: string | undefined, name: string): Promise<void> {
    await this.#call<unknown>('DELETE', objectPath(kind, namespace, name), undefined, undefined, [200, 202, 404]);
  }

  /** Writes status.loadBalancer.ingress (what a cloud controller would do). */
  setLoadBalancerIngress(namespace: string, name: string, ips: readonly string[]): Promise<Service> {
    return this.#call<Service>('PATCH', `${objectPath('Service', namespace, name)}/status`,
      { status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } }, 'application/merge-patch+json');
  }
}
