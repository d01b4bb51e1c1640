// Keeps the YAML manifests of a directory applied: Namespaces, Nodes, Services and
// EndpointSlices, multi-document files and `kind: List` included. Each document is applied
// create-or-update like `kubectl apply` (the last-applied annotation is recorded, allocated
// values such as clusterIP and nodePorts are kept). The directory is watched (fs.watch) and
// rescanned periodically; bad documents are logged with file, document index and field, and
// do not stop the others.

import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Logger } from '../util/logger.ts';
import { ApiError } from './errors.ts';
import { isObject, type JsonObject } from './json.ts';
import type { Registry } from './registry/registry.ts';
import { ALL_RESOURCES } from './registry/resources.ts';
import type { ResourceDef } from './registry/types.ts';

export interface ManifestLoaderOptions {
  readonly dir: string;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly rescanMs: number;
}

const ORDER = ['Namespace', 'Node', 'Service', 'EndpointSlice'];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

interface Doc {
  readonly file: string;
  readonly index: number;
  readonly obj: JsonObject;
  readonly def: ResourceDef;
}

export interface ManifestProblem {
  readonly file: string;
  readonly document: number;
  readonly message: string;
  readonly fields?: readonly string[];
}

export class ManifestLoader {
  private readonly opts: ManifestLoaderOptions;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Last problem reported per "file#doc", so a bad document is logged once, not every rescan. */
  private readonly reported = new Map<string, string>();
  /** Problems of the latest scan (for tests and status). */
  problems: ManifestProblem[] = [];

  constructor(opts: ManifestLoaderOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    await this.scan();
    try {
      this.watcher = watch(this.opts.dir, () => { this.schedule(); });
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; });
    } catch (err) {
      this.opts.logger.warn({ dir: this.opts.dir, err: err instanceof Error ? err.message : String(err) }, 'manifests: cannot watch directory; relying on periodic rescans');
    }
    this.timer = setInterval(() => { void this.scan(); }, this.opts.rescanMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => { void this.scan(); }, 100);
    this.debounce.unref();
  }

  /** Reads and applies every manifest; concurrent calls coalesce. */
  async scan(): Promise<void> {
    if (this.running) {
      this.again = true;
      await this.running;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.scanOnce().catch((err: unknown) => {
          this.opts.logger.error({ err, dir: this.opts.dir }, 'manifests: scan failed');
        });
      } while (this.repeat());
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private repeat(): boolean {
    return this.again && !this.stopped;
  }

  private report(p: ManifestProblem): void {
    this.problems.push(p);
    const key = `${p.file}#${String(p.document)}`;
    const text = p.message;
    if (this.reported.get(key) === text) return;
    this.reported.set(key, text);
    this.opts.logger.error({ file: p.file, document: p.document, fields: p.fields }, `manifests: ${p.message}`);
  }

  private async scanOnce(): Promise<void> {
    if (this.stopped) return;
    this.problems = [];
    let names: string[];
    try {
      names = (await readdir(this.opts.dir)).filter((n) => /\.(ya?ml|json)$/i.test(n) && !n.startsWith('.')).sort();
    } catch (err) {
      this.report({ file: this.opts.dir, document: 0, message: `cannot read directory: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    const docs: Doc[] = [];
    for (const name of names) {
      const file = join(this.opts.dir, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // removed between readdir and read
      }
      docs.push(...this.parseFile(file, text));
    }
    docs.sort((a, b) => ORDER.indexOf(a.def.kind) - ORDER.indexOf(b.def.kind));
    const applied = new Set<string>();
    for (const d of docs) {
      if (await this.apply(d)) applied.add(`${d.file}#${String(d.index)}`);
    }
    for (const k of [...this.reported.keys()]) if (applied.has(k)) this.reported.delete(k);
  }

  private parseFile(file: string, text: string): Doc[] {
    const out: Doc[] = [];
    parseAllDocuments(text).forEach((doc, index) => {
      if (Array.isArray(doc) || doc.errors.length) {
        const msg = Array.isArray(doc) ? 'unparsable YAML' : (doc.errors[0]?.message ?? 'bad YAML');
        this.report({ file, document: index, message: `YAML error: ${msg}` });
        return;
      }
      const value: unknown = doc.toJSON();
      if (value === null || value === undefined) return;
      const items = isObject(value) && value['kind'] === 'List' && Array.isArray(value['items']) ? value['items'] : [value];
      for (const item of items) {
        if (!isObject(item)) {
          this.report({ file, document: index, message: 'document is not an object' });
          continue;
        }
        const def = ALL_RESOURCES.find((r) => r.kind === item['kind'] && r.apiVersion === item['apiVersion']);
        if (!def) {
          this.report({ file, document: index, message: `unsupported kind ${JSON.stringify(item['kind'] ?? '')} apiVersion ${JSON.stringify(item['apiVersion'] ?? '')} (supported: v1 Namespace, Node, Service; discovery.k8s.io/v1 EndpointSlice)`, fields: ['kind'] });
          continue;
        }
        out.push({ file, index, obj: item, def });
      }
    });
    return out;
  }

  /** Create-or-update of one document; true when it is applied. */
  private async apply(d: Doc): Promise<boolean> {
    const { registry } = this.opts;
    const meta = isObject(d.obj['metadata']) ? d.obj['metadata'] : {};
    const name = typeof meta['name'] === 'string' ? meta['name'] : '';
    const namespace = d.def.namespaced ? (typeof meta['namespace'] === 'string' && meta['namespace'] ? meta['namespace'] : 'default') : '';
    const what = `${d.def.kind} ${namespace ? `${namespace}/` : ''}${name}`;
    if (!name) {
      this.report({ file: d.file, document: d.index, message: `${d.def.kind}: metadata.name: Required value`, fields: ['metadata.name'] });
      return false;
    }
    const desired = structuredClone(d.obj);
    const status = desired['status'];
    delete desired['status'];
    const m: JsonObject = { ...meta };
    if (namespace) m['namespace'] = namespace;
    const lastApplied = { ...desired, metadata: { ...m, annotations: { ...(isObject(m['annotations']) ? m['annotations'] : {}) } } };
    const annotations: JsonObject = isObject(m['annotations']) ? { ...m['annotations'] } : {};
    annotations[LAST_APPLIED] = `${JSON.stringify(lastApplied)}\n`;
    m['annotations'] = annotations;
    delete m['resourceVersion'];
    desired['metadata'] = m;
    const opts = { dryRun: false, fieldValidation: 'Strict' as const };
    try {
      try {
        await registry.update(d.def.resource, namespace, name, desired, opts);
      } catch (err) {
        if (!(err instanceof ApiError) || err.httpStatus !== 404) throw err;
        await registry.create(d.def.resource, namespace, desired, opts);
        this.opts.logger.info({ file: d.file, document: d.index }, `manifests: created ${what}`);
      }
      if (status !== undefined && d.def.subresources.includes('status')) {
        await registry.update(d.def.resource, namespace, name, { apiVersion: d.def.apiVersion, kind: d.def.kind, metadata: { name, ...(namespace ? { namespace } : {}) }, status }, opts, 'status');
      }
      return true;
    } catch (err) {
      if (err instanceof ApiError) {
        const fields = (err.details?.causes ?? []).map((c) => c.field).filter((f): f is string => f !== undefined);
        this.report({ file: d.file, document: d.index, message: `${what}: ${err.message}`, fields });
      } else {
        this.report({ file: d.file, document: d.index, message: `${what}: ${err instanceof Error ? err.message : String(err)}` });
      }
      return false;
    }
  }
}
