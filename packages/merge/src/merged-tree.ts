import {
  LimitExceededError,
  baseName,
  displayPath,
  ensureChild,
  parentPath,
  splitPath,
  type EntryPath,
  type LayerEntry,
  type PathTreeNode,
} from "@strata-oci/layer";
import { withErrorContext } from "@strata-oci/errors";
import type { LayerTarget } from "./layer-target.js";
import { badHardlink } from "./target-errors.js";
import { children, LoadedNodes, type LowerSource } from "./merged-nodes.js";
import {
  childPath,
  removeLower,
  removeTree,
  type MergeObserver,
  type Removals,
} from "./merged-removal.js";
import { walkComponents, walkInRoot, type Found, type WalkSteps } from "./walk-in-root.js";
import {
  attributesOf,
  impliedDirectory,
  nodeEntry,
  plainEntry,
  type MergedEntry,
} from "./merged-entry.js";

export type { MergedEntry } from "./merged-entry.js";
export type { LowerSource } from "./merged-nodes.js";
export type { GaveWay, MergeObserver } from "./merged-removal.js";

type Node = PathTreeNode<MergedEntry>;

const MISSING: Found<never> = { kind: "missing" };

/**
 * The image's merged tree built from the layers' headers alone: no file body
 * is read or written, so memory follows the number of entries, not their
 * bytes. The changeset rules are the reference model's (rule for rule, the
 * property tests hold them equal); each entry remembers the layer and the
 * position in it that its bytes come from, so that one file can be read
 * back (`cat`) and the tree listed (`ls`) without unpacking.
 *
 * Paths are stored by component (`PathTreeNode`, children found by a hash
 * checked against the name); a removed subtree is cut off whole.
 */
export class MergedTree implements LayerTarget {
  readonly root: Node = {
    value: impliedDirectory(),
    name: "",
    children: undefined,
    collided: undefined,
  };
  #layer = -1;
  readonly #nodes: LoadedNodes;
  readonly #observer: MergeObserver | undefined;
  readonly #removals: Removals;

  /**
   * Paths that have an entry, and the most there may be (issue #26.8: 200-240 bytes of heap each).
   */
  #entries = 1;
  readonly #maxEntries: number;

  /**
   * With `lower`: on top of `layers` layers already merged there, loaded as needed. At most
   * `maxEntries` paths at once.
   */
  constructor(
    options: {
      readonly lower?: LowerSource;
      readonly layers?: number;
      readonly maxEntries?: number;
      /** Told of every entry that gives way (strata analyse). */
      readonly observer?: MergeObserver;
    } = {},
  ) {
    this.#maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    this.#nodes = new LoadedNodes(options.lower, (node, entry) => this.#set(node, entry));
    this.#observer = options.observer;
    this.#removals = {
      nodes: this.#nodes,
      cleared: () => void this.#entries--,
      observer: options.observer,
    };
    if (options.lower !== undefined) {
      this.root.value = options.lower.entry(Buffer.alloc(0)) ?? impliedDirectory();
      this.#nodes.pending(this.root, Buffer.alloc(0));
      this.#layer = (options.layers ?? 0) - 1;
    }
  }

  /**
   * What the layer being applied wrote: only lower layers' entries are removed by its whiteouts.
   */
  #written = new Set<Node>();
  #ordinal = 0;

  async applyLayer(entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>): Promise<void> {
    this.beginLayer();
    for await (const entry of entries) this.applyEntry(entry);
  }

  /** Starts the next layer (index 0 first); its entries then go to `applyEntry` in tar order. */
  beginLayer(): number {
    this.#written = new Set();
    this.#ordinal = 0;
    return ++this.#layer;
  }

  /**
   * Applies one entry of the current layer. For an entry that names a node
   * (not a whiteout or opaque marker): the path it landed at (parents
   * resolved through symlinks) and, for a hardlink, the path of its target.
   */
  applyEntry(entry: LayerEntry): { path: EntryPath; target?: EntryPath } | undefined {
    try {
      const landed = this.#apply(entry, this.#layer, this.#ordinal++, this.#written);
      if (this.#entries > this.#maxEntries)
        throw new LimitExceededError("maxMergedEntries", this.#entries, this.#maxEntries);
      return landed;
    } catch (error) {
      throw withErrorContext(error, { entry: displayPath(entry.path) });
    }
  }

  /**
   * Whether the entry at (resolved, plain) `path` and everything below it was written by the
   * current layer.
   */
  writtenByCurrentLayer(path: EntryPath): boolean {
    const start = this.#plain(path);
    if (start === undefined) return false;
    const stack = [start];
    while (stack.length > 0) {
      const node = stack.pop() as Node;
      if (node.value === undefined) continue;
      if (!this.#written.has(node)) return false;
      stack.push(...this.#nodes.children(node));
    }
    return true;
  }

  /**
   * The paths (resolved) of every name of `entry`: a hardlink group's members share one entry. A
   * walk of the whole tree.
   */
  pathsOf(entry: MergedEntry): EntryPath[] {
    const out: EntryPath[] = [];
    for (const { path, entry: found } of this.walk()) if (found === entry) out.push(path);
    return out;
  }

  /** The entry at `path` when every component is a real directory (no symlink followed). */
  plainEntry(path: EntryPath): MergedEntry | undefined {
    return this.#plain(path)?.value;
  }

  finish(): void {}

  /**
   * `path` resolved inside the image: symlinks followed (absolute targets
   * from the image's root, `..` stopping there), the last one too when
   * `followLast`. The resolved path and its entry; undefined when missing.
   */
  resolve(path: EntryPath, followLast = true): { path: EntryPath; entry: MergedEntry } | undefined {
    const resolved = this.#walk(path, { followLast });
    if (resolved === undefined) return undefined;
    const entry = resolved.at(-1)?.value;
    if (entry === undefined) return undefined;
    return {
      path: Buffer.from(
        resolved
          .slice(1)
          .map((node) => node.name)
          .join("/"),
        "latin1",
      ),
      entry,
    };
  }

  /** The entries of directory `path` (resolved), sorted by name byte order. */
  list(path: EntryPath): Array<{ name: Buffer; entry: MergedEntry }> | undefined {
    const dir = this.#walk(path, { followLast: true })?.at(-1);
    if (dir?.value?.kind !== "dir") return undefined;
    return this.#nodes
      .children(dir)
      .filter((child) => child.value !== undefined)
      .map((child) => ({
        name: Buffer.from(child.name, "latin1"),
        entry: child.value as MergedEntry,
      }))
      .sort((a, b) => Buffer.compare(a.name, b.name));
  }

  /**
   * Every entry, parents before children, siblings by name (in no order without `sorted`: a
   * quarter less time on 100k entries); `path` as bytes.
   */
  *walk(
    from: EntryPath = Buffer.alloc(0),
    sorted = true,
  ): Generator<{ path: EntryPath; entry: MergedEntry }> {
    const start = this.#walk(from, { followLast: true })?.at(-1);
    if (start?.value === undefined) return;
    const stack: Array<{ node: Node; path: EntryPath }> = [{ node: start, path: from }];
    while (stack.length > 0) {
      const { node, path } = stack.pop() as { node: Node; path: EntryPath };
      if (node.value === undefined) continue;
      yield { path, entry: node.value };
      if (node.value.kind !== "dir") continue;
      const below = this.#nodes.children(node);
      if (sorted) below.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
      for (const child of below)
        stack.push({
          node: child,
          path:
            path.length === 0
              ? Buffer.from(child.name, "latin1")
              : Buffer.concat([path, Buffer.from([0x2f]), Buffer.from(child.name, "latin1")]),
        });
    }
  }

  /** Gives `node` an entry, counting the paths that have one. */
  #set(node: Node, value: MergedEntry): void {
    if (node.value === undefined) this.#entries++;
    node.value = value;
  }

  #apply(
    entry: LayerEntry,
    layer: number,
    ordinal: number,
    written: Set<Node>,
  ): { path: EntryPath; target?: EntryPath } | undefined {
    if (entry.kind === "whiteout" || entry.kind === "opaque") {
      this.#removal(entry, written);
      return undefined;
    }
    const attrs = attributesOf(entry, layer, ordinal);
    if (entry.path.length === 0) {
      if (this.root.value !== undefined)
        this.#observer?.gaveWay(this.root.value, entry.path, "updated");
      this.root.value = plainEntry("dir", attrs, 0);
      written.add(this.root);
      return { path: entry.path };
    }
    const parents = this.#walk(entry.path, { create: true, parentOnly: true }) as Node[];
    let target: EntryPath | undefined;
    const parent = parents.at(-1) as Node;
    const name = baseName(entry.path);
    // What is there may still be below, unloaded: a directory over a directory keeps its children.
    const node = this.#nodes.child(parent, name) ?? ensureChild(parent, name);
    const path = pathOf(parents, node);
    const observed = this.#observer === undefined ? undefined : path;
    if (entry.kind === "dir") {
      if (node.value?.kind !== "dir") removeTree(node, this.#removals, observed, "replaced");
      else this.#observer?.gaveWay(node.value, path, "updated");
      this.#set(node, plainEntry("dir", attrs, 0));
    } else if (entry.kind === "hardlink") {
      const found = this.#hardlinkTarget(entry.target);
      target = pathOf(found.parents, found.node);
      if (found.node !== node) {
        const shared = found.node.value as MergedEntry;
        removeTree(node, this.#removals, observed, "replaced");
        if (found.node.value === undefined)
          throw badHardlink(entry.target, "was removed by this entry");
        this.#set(node, shared);
        this.#observer?.linked?.(shared);
      }
    } else {
      removeTree(node, this.#removals, observed, "replaced");
      this.#set(node, nodeEntry(entry, attrs));
    }
    written.add(node);
    return { path, ...(target === undefined ? {} : { target }) };
  }

  /** A whiteout or an opaque marker: lower entries removed (this layer's are kept). */
  #removal(entry: LayerEntry & { kind: "whiteout" | "opaque" }, written: Set<Node>): void {
    const node = this.#plain(entry.path);
    const path = this.#observer === undefined ? undefined : entry.path;
    if (entry.kind === "whiteout") {
      if (node?.value !== undefined) removeLower(node, written, this.#removals, path);
    } else if (node?.value?.kind === "dir") {
      // Every child below goes: those never loaded need no loading.
      this.#nodes.loaded(node);
      for (const child of children(node))
        removeLower(child, written, this.#removals, childPath(path, child.name));
    }
  }

  /**
   * Walks `path` from the root, following symlinks inside the image, and
   * returns the nodes from the root to the result. With `parentOnly` only the
   * parent of `path` is resolved (the last name is the caller's), and missing
   * directories are made (`create`) as implied ones. Undefined when a
   * component is missing and not created; a component that is neither a
   * directory nor a symlink is an error while applying (`create`, `strict`),
   * as in the model, and "missing" for queries.
   */
  #walk(
    path: EntryPath,
    how: { create?: boolean; strict?: boolean; followLast?: boolean; parentOnly?: boolean },
  ): Node[] | undefined {
    const { create = false, strict = create, followLast = false, parentOnly = false } = how;
    if (parentOnly)
      return walkComponents(
        this.root,
        splitPath(parentPath(path)),
        this.#steps,
        { mode: "parents", create, strict },
        path,
      );
    return walkInRoot(this.root, path, this.#steps, { mode: "path", followLast, create, strict });
  }

  /**
   * The merged tree as walkInRoot sees it: children by name (loaded from below where needed),
   * implied directories made.
   */
  readonly #steps: WalkSteps<Node> = {
    look: (stack, name) => {
      const child = this.#nodes.child(stack[stack.length - 1], name);
      const value = child?.value;
      if (child === undefined || value === undefined) return MISSING;
      if (value.kind === "dir") return { kind: "dir", node: child };
      if (value.kind === "symlink")
        return { kind: "symlink", node: child, target: value.target as Buffer };
      return { kind: "other", node: child, what: `a ${value.kind}` };
    },
    make: (stack, name) => {
      const child = ensureChild(stack[stack.length - 1] as Node, name);
      this.#set(child, impliedDirectory());
      return child;
    },
  };

  /**
   * The node at `path` when every component is a real directory (no symlink followed), as whiteouts
   * require.
   */
  #plain(path: EntryPath): Node | undefined {
    let node: Node | undefined = this.root;
    for (const part of splitPath(path)) {
      if (node?.value?.kind !== "dir") return undefined;
      node = this.#nodes.child(node, part);
    }
    return node;
  }

  #hardlinkTarget(target: EntryPath): { node: Node; parents: Node[] } {
    const parents = this.#walk(target, { strict: true, parentOnly: true });
    const node =
      parents === undefined ? undefined : this.#nodes.child(parents.at(-1), baseName(target));
    if (node?.value === undefined) throw badHardlink(target, "does not exist");
    if (node.value.kind === "dir") throw badHardlink(target, "is a directory");
    return { node, parents: parents as Node[] };
  }
}

/** The path of `node`, a child of the last of `parents` (root first). */
function pathOf(parents: readonly Node[], node: Node): EntryPath {
  return Buffer.from([...parents.slice(1), node].map((part) => part.name).join("/"), "latin1");
}
