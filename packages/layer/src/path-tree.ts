import { joinPath } from "./entry-path.js";
import type { EntryPath } from "./layer-entry.js";

const SLASH = 0x2f;
const EMPTY = Buffer.alloc(0);
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;
// Map keys that stay small integers in V8 (31-bit with pointer compression):
// a full 32-bit hash became a heap number per lookup.
const SMI_BITS = 0x3fffffff;
/**
 * Paths at least this long start from the last walk's nodes where they can (measured on 35-byte
 * paths: slower; on 4 KB paths: 5x faster).
 */
const CACHED_LENGTH = 128;

/** One path's node: its value (undefined when the path has none) and its children. */
export interface PathTreeNode<V> {
  value: V | undefined;
  /** This node's own name (the last component of its path), latin1: byte-exact. */
  readonly name: string;
  /** Children by a hash of their name; each is checked against its name. */
  children: Map<number, PathTreeNode<V>> | undefined;
  /** Children whose name hash another child already had, by name. */
  collided: Map<string, PathTreeNode<V>> | undefined;
}

function newNode<V>(name: string): PathTreeNode<V> {
  return { value: undefined, name, children: undefined, collided: undefined };
}

/**
 * A map from entry paths to values, stored by component: a path costs its
 * last name and a node, not its whole length. Flat maps keyed by the full
 * path held ~4 KB per entry of a layer with 4 KB paths (666 MB for a hostile
 * 100k-entry layer, issue #9); here a shared prefix is stored once.
 *
 * Children are found by a 32-bit hash of their name computed while scanning
 * the path (string keys cost 3x: a string made per component), and the name
 * is then compared byte for byte, so a lookup is exact. A name whose hash is
 * taken goes to a map by name, so crafted collisions cost a string each, not
 * a longer search. Nodes are never removed one by one (`delete` drops a
 * value), only all at once by `clear`: a node a caller holds stays the node
 * of its path.
 */
export class PathTree<V> {
  #root: PathTreeNode<V> = newNode("");
  // The last walk's target and its parent, with their nodes: entries come
  // grouped by directory, so most walks start one name short of their end.
  #lastPath = EMPTY;
  #lastNode = this.#root;
  #lastParentPath = EMPTY;
  #lastParentNode = this.#root;

  get root(): PathTreeNode<V> {
    return this.#root;
  }

  get(path: EntryPath): V | undefined {
    return this.#walk(path, false)?.value;
  }

  has(path: EntryPath): boolean {
    return this.#walk(path, false)?.value !== undefined;
  }

  set(path: EntryPath, value: V): void {
    (this.#walk(path, true) as PathTreeNode<V>).value = value;
  }

  /** Removes the value at `path` (paths below it keep theirs); true when there was one. */
  delete(path: EntryPath): boolean {
    const node = this.#walk(path, false);
    if (node?.value === undefined) return false;
    node.value = undefined;
    return true;
  }

  /** The node at `path`: present when the path or a path below it has (or had) a value. */
  node(path: EntryPath): PathTreeNode<V> | undefined {
    return this.#walk(path, false);
  }

  /** The node at `path`, made (without a value) where missing. */
  ensure(path: EntryPath): PathTreeNode<V> {
    return this.#walk(path, true) as PathTreeNode<V>;
  }

  clear(): void {
    this.#root = newNode("");
    this.#lastPath = this.#lastParentPath = EMPTY;
    this.#lastNode = this.#lastParentNode = this.#root;
  }

  /**
   * Visits every node that has a value, each after all the nodes below it;
   * `path()` builds the node's path when the visitor needs it. Iterative: a
   * hostile layer can nest thousands of directories.
   */
  forEachChildrenFirst(
    visit: (value: V, path: () => EntryPath, node: PathTreeNode<V>) => void,
  ): void {
    const stack: { node: PathTreeNode<V>; children: Iterator<PathTreeNode<V>> }[] = [
      { node: this.#root, children: childrenOf(this.#root) },
    ];
    const path = (): EntryPath =>
      joinPath(stack.slice(1).map((frame) => Buffer.from(frame.node.name, "latin1")));
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as (typeof stack)[number];
      const next = top.children.next();
      if (next.done !== true) {
        stack.push({ node: next.value, children: childrenOf(next.value) });
        continue;
      }
      if (top.node.value !== undefined) visit(top.node.value, path, top.node);
      stack.pop();
    }
  }

  #walk(path: EntryPath, create: boolean): PathTreeNode<V> | undefined {
    let node = this.#root;
    let start = 0;
    if (path.length === 0) return node;
    // Start below the last walk's target or its parent where `path` lies.
    // Short paths walk from the root: the check and the copies cost more.
    const cached = path.length >= CACHED_LENGTH;
    if (cached && isWithin(path, this.#lastPath)) {
      if (path.length === this.#lastPath.length) return this.#lastNode;
      node = this.#lastNode;
      start = this.#lastPath.length + 1;
    } else if (cached && isWithin(path, this.#lastParentPath)) {
      if (path.length === this.#lastParentPath.length) return this.#lastParentNode;
      node = this.#lastParentNode;
      start = this.#lastParentPath.length + 1;
    }
    let parent = node;
    let parentEnd = start - 1;
    let hash = FNV_OFFSET;
    for (let i = start; i <= path.length; i++) {
      const byte = i < path.length ? (path[i] as number) : SLASH;
      if (byte !== SLASH) {
        hash = Math.imul(hash ^ byte, FNV_PRIME);
        continue;
      }
      if (i > start) {
        const child =
          findChild(node, path, start, i, hash & SMI_BITS) ??
          (create ? addChild(node, path, start, i, hash & SMI_BITS) : undefined);
        if (child === undefined) return undefined;
        if (i < path.length) {
          parent = child;
          parentEnd = i;
        }
        node = child;
      }
      start = i + 1;
      hash = FNV_OFFSET;
    }
    if (!cached) return node;
    // Copies: entry paths are views of buffers that get reused.
    if (node !== this.#lastNode) {
      this.#lastPath = Buffer.from(path);
      this.#lastNode = node;
    }
    if (parent !== this.#lastParentNode) {
      this.#lastParentPath = parentEnd <= 0 ? EMPTY : Buffer.from(path.subarray(0, parentEnd));
      this.#lastParentNode = parent;
    }
    return node;
  }
}

/**
 * True when `path` is `prefix` or lies below it; never for the root as `prefix` (the walk starts
 * there anyway).
 */
function isWithin(path: Buffer, prefix: Buffer): boolean {
  const n = prefix.length;
  if (n === 0 || path.length < n || (path.length > n && path[n] !== SLASH)) return false;
  return path.compare(prefix, 0, n, 0, n) === 0;
}

function* childrenOf<V>(node: PathTreeNode<V>): Iterator<PathTreeNode<V>> {
  if (node.children !== undefined) yield* node.children.values();
  if (node.collided !== undefined) yield* node.collided.values();
}

function hashOf(bytes: Buffer, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ (bytes[i] as number), FNV_PRIME);
  return hash & SMI_BITS;
}

function isNamed(node: PathTreeNode<unknown>, bytes: Buffer, start: number, end: number): boolean {
  const name = node.name;
  if (name.length !== end - start) return false;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

function findChild<V>(
  node: PathTreeNode<V>,
  bytes: Buffer,
  start: number,
  end: number,
  hash: number,
): PathTreeNode<V> | undefined {
  const child = node.children?.get(hash);
  if (child === undefined || isNamed(child, bytes, start, end)) return child;
  return node.collided?.get(bytes.toString("latin1", start, end));
}

function addChild<V>(
  node: PathTreeNode<V>,
  bytes: Buffer,
  start: number,
  end: number,
  hash: number,
): PathTreeNode<V> {
  const child = newNode<V>(bytes.toString("latin1", start, end));
  node.children ??= new Map();
  if (node.children.has(hash)) (node.collided ??= new Map()).set(child.name, child);
  else node.children.set(hash, child);
  return child;
}

/** The child node `name` of `node` (a path component as bytes). */
export function childNode<V>(
  node: PathTreeNode<V> | undefined,
  name: Buffer,
): PathTreeNode<V> | undefined {
  return node === undefined
    ? undefined
    : findChild(node, name, 0, name.length, hashOf(name, 0, name.length));
}

/** The child node `name` of `node`, made (without a value) where missing. */
export function ensureChild<V>(node: PathTreeNode<V>, name: Buffer): PathTreeNode<V> {
  const hash = hashOf(name, 0, name.length);
  return findChild(node, name, 0, name.length, hash) ?? addChild(node, name, 0, name.length, hash);
}
