// What leaves the merged tree, and who is told: entries replaced by one at
// their path, directories given new attributes, and whole subtrees removed by
// a whiteout, an opaque directory or a parent replaced. strata analyse counts
// the bytes that give way (wasted) from these events; without an observer no
// path is built.
import type { EntryPath, PathTreeNode } from "@strata-oci/layer";
import type { MergedEntry } from "./merged-entry.js";
import { children, type LoadedNodes } from "./merged-nodes.js";

type Node = PathTreeNode<MergedEntry>;

/** How an entry gave way to the layer being applied. */
export type GaveWay = "replaced" | "updated" | "removed";

/** Told of every entry that gives way while layers are applied. */
export interface MergeObserver {
  /**
   * `entry` at `path` gave way: "replaced" by an entry of the same path, "updated" (a directory
   * over a directory: the new attributes, the children kept), or "removed" (a whiteout, an opaque
   * directory, or something above it replaced).
   */
  gaveWay(entry: MergedEntry, path: EntryPath, how: GaveWay): void;
  /** A hardlink now shares `entry`: its bytes stay while any of its names does. */
  linked?(entry: MergedEntry): void;
}

/** `path` + "/" + `name`, where paths are being followed. */
export function childPath(path: EntryPath | undefined, name: string): EntryPath | undefined {
  if (path === undefined) return undefined;
  const own = Buffer.from(name, "latin1");
  return path.length === 0 ? own : Buffer.concat([path, Buffer.from([0x2f]), own]);
}

/** How removals reach the tree: its nodes, its count of entries, the observer. */
export interface Removals {
  readonly nodes: LoadedNodes;
  /** An entry was dropped (the tree counts the paths that have one). */
  cleared(): void;
  readonly observer: MergeObserver | undefined;
}

/** Drops `node` and all below it; the observer hears of `node` as `how`, below as removed. */
export function removeTree(
  node: Node,
  removals: Removals,
  path?: EntryPath,
  how: GaveWay = "removed",
): void {
  const { observer } = removals;
  // Values are cleared one by one: a hardlink target held by the caller must see it is gone.
  const stack: Array<{ node: Node; path: EntryPath | undefined }> = [{ node, path }];
  while (stack.length > 0) {
    const top = stack.pop() as (typeof stack)[number];
    if (top.node.value !== undefined) {
      removals.cleared();
      if (observer !== undefined && top.path !== undefined)
        observer.gaveWay(top.node.value, top.path, top.node === node ? how : "removed");
    }
    top.node.value = undefined;
    removals.nodes.loaded(top.node);
    for (const child of children(top.node))
      stack.push({ node: child, path: childPath(top.path, child.name) });
    top.node.children = undefined;
    top.node.collided = undefined;
  }
}

/**
 * Removes what lower layers put at `node` and below, keeping what this layer wrote; true when
 * `node` stays.
 */
export function removeLower(
  node: Node,
  written: ReadonlySet<Node>,
  removals: Removals,
  path?: EntryPath,
): boolean {
  // Iterative, children first: a hostile layer can nest thousands of directories.
  const keep = new Set<Node>();
  type Item = {
    node: Node;
    expanded: boolean;
    parent: Node | undefined;
    path: EntryPath | undefined;
  };
  const stack: Item[] = [{ node, expanded: false, parent: undefined, path }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Item;
    if (top.node.value === undefined) {
      stack.pop();
      continue;
    }
    if (!top.expanded && top.node.value.kind === "dir") {
      top.expanded = true;
      // Children never loaded are lower ones, all removed: they need no loading.
      removals.nodes.loaded(top.node);
      for (const child of children(top.node)) {
        const below = childPath(top.path, child.name);
        stack.push({ node: child, expanded: false, parent: top.node, path: below });
      }
      continue;
    }
    stack.pop();
    if (written.has(top.node) || keep.has(top.node)) {
      if (top.parent !== undefined) keep.add(top.parent);
    } else {
      removeTree(top.node, removals, top.path);
    }
  }
  return node.value !== undefined;
}
