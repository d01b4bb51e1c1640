// An immutable string-keyed map with structural sharing (a hash array mapped trie, HAMT).
//
// Why: snapshots handed to dataplanes must never change under them, yet a sync must cost
// O(changes), not O(cluster size). Copying a 30k-entry Map per sync is O(n); a versioned
// store would need to know when old views die. A HAMT gives both: `set`/`delete` copy only
// the O(log32 n) nodes on the path to the key (3–4 small arrays at 30k entries) and share
// everything else with the previous version, so a snapshot is just a pointer to a root that
// nobody will ever mutate again.
//
// Bulk loads use a builder (Clojure's "transient"): nodes created by the builder carry its
// owner token and are mutated in place until `build()`; after that the token is retired and
// the result is as immutable as any other version.
//
// Iteration order is hash order, not insertion order.

const BITS = 5;
const MASK = 0x1f;

/** FNV-1a over UTF-16 code units: cheap, and good enough spread for "ns/name:port/PROTO" keys. Exported for tests. */
export function hashString(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

function bitFor(hash: number, shift: number): number {
  return 1 << ((hash >>> shift) & MASK);
}

function indexOf(bitmap: number, bit: number): number {
  return popcount(bitmap & (bit - 1));
}

type Owner = object;

class Leaf<V> {
  readonly hash: number;
  readonly key: string;
  readonly value: V;
  constructor(hash: number, key: string, value: V) {
    this.hash = hash;
    this.key = key;
    this.value = value;
  }
}

class BitmapNode<V> {
  bitmap: number;
  entries: Entry<V>[];
  readonly owner: Owner | undefined;
  constructor(bitmap: number, entries: Entry<V>[], owner: Owner | undefined) {
    this.bitmap = bitmap;
    this.entries = entries;
    this.owner = owner;
  }
}

/** Keys whose full 32-bit hashes are equal. */
class CollisionNode<V> {
  readonly hash: number;
  leaves: Leaf<V>[];
  readonly owner: Owner | undefined;
  constructor(hash: number, leaves: Leaf<V>[], owner: Owner | undefined) {
    this.hash = hash;
    this.leaves = leaves;
    this.owner = owner;
  }
}

type Entry<V> = Leaf<V> | BitmapNode<V> | CollisionNode<V>;

/** Mutable per-operation state: whether the size changed. */
interface Delta {
  added: boolean;
  removed: boolean;
}

function editableBitmap<V>(node: BitmapNode<V>, owner: Owner | undefined): BitmapNode<V> {
  if (owner !== undefined && node.owner === owner) return node;
  return new BitmapNode(node.bitmap, node.entries.slice(), owner);
}

/** A node holding two leaves (or a collision node and a leaf) that differ below `shift`. */
function join<V>(shift: number, a: Leaf<V> | CollisionNode<V>, b: Leaf<V>, owner: Owner | undefined): Entry<V> {
  if (a.hash === b.hash) {
    const leaves = a instanceof CollisionNode ? [...a.leaves, b] : [a, b];
    return new CollisionNode(a.hash, leaves, owner);
  }
  const bitA = bitFor(a.hash, shift);
  const bitB = bitFor(b.hash, shift);
  if (bitA === bitB) return new BitmapNode(bitA, [join(shift + BITS, a, b, owner)], owner);
  const entries: Entry<V>[] = (bitA >>> 0) < (bitB >>> 0) ? [a, b] : [b, a];
  return new BitmapNode(bitA | bitB, entries, owner);
}

function setIn<V>(entry: Entry<V>, shift: number, leaf: Leaf<V>, owner: Owner | undefined, delta: Delta): Entry<V> {
  if (entry instanceof Leaf) {
    if (entry.key === leaf.key) return Object.is(entry.value, leaf.value) ? entry : leaf;
    delta.added = true;
    return join(shift, entry, leaf, owner);
  }
  if (entry instanceof CollisionNode) {
    if (entry.hash !== leaf.hash) {
      delta.added = true;
      return join(shift, entry, leaf, owner);
    }
    const i = entry.leaves.findIndex((l) => l.key === leaf.key);
    if (i >= 0 && Object.is(entry.leaves[i]?.value, leaf.value)) return entry;
    const leaves = owner !== undefined && entry.owner === owner ? entry.leaves : entry.leaves.slice();
    if (i >= 0) leaves[i] = leaf;
    else {
      leaves.push(leaf);
      delta.added = true;
    }
    return leaves === entry.leaves ? entry : new CollisionNode(entry.hash, leaves, owner);
  }
  const bit = bitFor(leaf.hash, shift);
  const idx = indexOf(entry.bitmap, bit);
  if ((entry.bitmap & bit) === 0) {
    delta.added = true;
    const node = editableBitmap(entry, owner);
    node.entries.splice(idx, 0, leaf);
    node.bitmap |= bit;
    return node;
  }
  const child = entry.entries[idx] as Entry<V>;
  const next = setIn(child, shift + BITS, leaf, owner, delta);
  if (next === child) return entry;
  const node = editableBitmap(entry, owner);
  node.entries[idx] = next;
  return node;
}

/** Returns the new entry, `undefined` when it became empty, or a lone Leaf to inline upward. */
function removeIn<V>(entry: Entry<V>, shift: number, hash: number, key: string, owner: Owner | undefined, delta: Delta): Entry<V> | undefined {
  if (entry instanceof Leaf) {
    if (entry.key !== key) return entry;
    delta.removed = true;
    return undefined;
  }
  if (entry instanceof CollisionNode) {
    if (entry.hash !== hash) return entry;
    const i = entry.leaves.findIndex((l) => l.key === key);
    if (i < 0) return entry;
    delta.removed = true;
    const leaves = entry.leaves.filter((_, j) => j !== i);
    if (leaves.length === 1) return leaves[0];
    return new CollisionNode(hash, leaves, owner);
  }
  const bit = bitFor(hash, shift);
  if ((entry.bitmap & bit) === 0) return entry;
  const idx = indexOf(entry.bitmap, bit);
  const child = entry.entries[idx] as Entry<V>;
  const next = removeIn(child, shift + BITS, hash, key, owner, delta);
  if (next === child) return entry;
  if (next === undefined) {
    if (entry.entries.length === 1) return undefined;
    // A non-root node left with a single leaf collapses into that leaf.
    if (shift > 0 && entry.entries.length === 2) {
      const other = entry.entries[1 - idx];
      if (other instanceof Leaf) return other;
    }
    const node = editableBitmap(entry, owner);
    node.entries.splice(idx, 1);
    node.bitmap &= ~bit;
    return node;
  }
  if (shift > 0 && entry.entries.length === 1 && next instanceof Leaf) return next;
  const node = editableBitmap(entry, owner);
  node.entries[idx] = next;
  return node;
}

function getIn<V>(root: BitmapNode<V>, hash: number, key: string): Leaf<V> | undefined {
  let entry: Entry<V> = root;
  let shift = 0;
  for (;;) {
    if (entry instanceof Leaf) return entry.key === key ? entry : undefined;
    if (entry instanceof CollisionNode) return entry.leaves.find((l) => l.key === key);
    const bit = bitFor(hash, shift);
    if ((entry.bitmap & bit) === 0) return undefined;
    entry = entry.entries[indexOf(entry.bitmap, bit)] as Entry<V>;
    shift += BITS;
  }
}

/** Depth-first over all leaves with an explicit stack (nested `yield*` is slow in V8). */
function* leaves<V>(root: BitmapNode<V>): Generator<Leaf<V>, undefined> {
  const nodes: (BitmapNode<V> | CollisionNode<V>)[] = [root];
  const positions: number[] = [0];
  while (nodes.length > 0) {
    const top = nodes.length - 1;
    const node = nodes[top] as BitmapNode<V> | CollisionNode<V>;
    const pos = positions[top] as number;
    const children: readonly Entry<V>[] = node instanceof CollisionNode ? node.leaves : node.entries;
    if (pos >= children.length) {
      nodes.pop();
      positions.pop();
      continue;
    }
    positions[top] = pos + 1;
    const child = children[pos] as Entry<V>;
    if (child instanceof Leaf) {
      yield child;
    } else {
      nodes.push(child);
      positions.push(0);
    }
  }
  return undefined;
}

/** Puts a lone leaf (the result of collapsing the root) back into a root node. */
function asRoot<V>(entry: Entry<V> | undefined, owner: Owner | undefined): BitmapNode<V> {
  if (entry === undefined) return new BitmapNode<V>(0, [], owner);
  if (entry instanceof BitmapNode) return entry;
  return new BitmapNode<V>(bitFor(entry.hash, 0), [entry], owner);
}

/** An immutable map from string keys. Every "modifying" method returns a new map. */
export class PersistentMap<V> implements ReadonlyMap<string, V> {
  readonly #root: BitmapNode<V>;
  readonly #size: number;

  private constructor(root: BitmapNode<V>, size: number) {
    this.#root = root;
    this.#size = size;
  }

  static empty<V>(): PersistentMap<V> {
    return new PersistentMap<V>(new BitmapNode<V>(0, [], undefined), 0);
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    const b = PersistentMap.empty<V>().builder();
    for (const [k, v] of entries) b.set(k, v);
    return b.build();
  }

  /** @internal used by the builder. */
  static wrap<V>(root: BitmapNode<V>, size: number): PersistentMap<V> {
    return new PersistentMap(root, size);
  }

  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    return getIn(this.#root, hashString(key), key)?.value;
  }

  has(key: string): boolean {
    return getIn(this.#root, hashString(key), key) !== undefined;
  }

  set(key: string, value: V): PersistentMap<V> {
    const delta: Delta = { added: false, removed: false };
    const root = setIn(this.#root, 0, new Leaf(hashString(key), key, value), undefined, delta) as BitmapNode<V>;
    return root === this.#root ? this : new PersistentMap(root, this.#size + (delta.added ? 1 : 0));
  }

  delete(key: string): PersistentMap<V> {
    const delta: Delta = { added: false, removed: false };
    const next = removeIn(this.#root, 0, hashString(key), key, undefined, delta);
    if (!delta.removed) return this;
    return new PersistentMap(asRoot(next, undefined), this.#size - 1);
  }

  /** A builder starting from this version; this map itself is never affected. */
  builder(): PersistentMapBuilder<V> {
    return new PersistentMapBuilder(this.#root, this.#size);
  }

  *entries(): MapIterator<[string, V]> {
    for (const leaf of leaves(this.#root)) yield [leaf.key, leaf.value];
    return undefined;
  }

  *keys(): MapIterator<string> {
    for (const leaf of leaves(this.#root)) yield leaf.key;
    return undefined;
  }

  *values(): MapIterator<V> {
    for (const leaf of leaves(this.#root)) yield leaf.value;
    return undefined;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(callbackfn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const leaf of leaves(this.#root)) callbackfn.call(thisArg, leaf.value, leaf.key, this);
  }
}

/** Batches many updates with in-place edits of freshly created nodes. Single use. */
export class PersistentMapBuilder<V> {
  #root: BitmapNode<V>;
  #size: number;
  #owner: Owner | undefined = {};

  constructor(root: BitmapNode<V>, size: number) {
    this.#root = root;
    this.#size = size;
  }

  #live(): Owner {
    if (this.#owner === undefined) throw new Error('PersistentMapBuilder used after build()');
    return this.#owner;
  }

  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    return getIn(this.#root, hashString(key), key)?.value;
  }

  has(key: string): boolean {
    return getIn(this.#root, hashString(key), key) !== undefined;
  }

  set(key: string, value: V): this {
    const owner = this.#live();
    const delta: Delta = { added: false, removed: false };
    this.#root = setIn(this.#root, 0, new Leaf(hashString(key), key, value), owner, delta) as BitmapNode<V>;
    if (delta.added) this.#size++;
    return this;
  }

  delete(key: string): this {
    const owner = this.#live();
    const delta: Delta = { added: false, removed: false };
    const next = removeIn(this.#root, 0, hashString(key), key, owner, delta);
    if (delta.removed) {
      this.#root = asRoot(next, owner);
      this.#size--;
    }
    return this;
  }

  /** Freezes the result: the owner token is retired so no node can be edited in place again. */
  build(): PersistentMap<V> {
    this.#live();
    this.#owner = undefined;
    return PersistentMap.wrap(this.#root, this.#size);
  }
}
