import { lstatSync, mkdirSync, readlinkSync, type Stats } from "node:fs";
import { displayPath, joinPath, parentPath, splitPath, type EntryPath } from "@strata-oci/layer";
import { BadEntryError } from "@strata-oci/errors";
import type { DiskIndex, IndexNode } from "./disk-index.js";
import { MAX_SYMLINK_FOLLOWS, walkComponents, type WalkSteps } from "./walk-in-root.js";

export { MAX_RESOLVE_STEPS, MAX_SYMLINK_FOLLOWS } from "./walk-in-root.js";

/** A path inside the root whose every component was checked to be a real directory (no symlink). */
export type ResolvedPath = EntryPath & { readonly __resolvedInRoot: unique symbol };

/** The absolute on-disk location of a path inside `root`. */
const SLASH = Buffer.from("/");

export function onDisk(root: Buffer, path: EntryPath): Buffer {
  return path.length === 0 ? root : Buffer.concat([root, SLASH, path]);
}

export function lstatOrUndefined(path: Buffer): Stats | undefined {
  return lstatSync(path, { throwIfNoEntry: false });
}

/** A directory on the walk: its name (none for the root) and its index node, where it is known. */
interface Place {
  readonly name: Buffer | undefined;
  readonly node: IndexNode | undefined;
}

const namesOf = (stack: readonly Place[]): Buffer[] =>
  stack.slice(1).map((place) => place.name as Buffer);

function kindOf(stats: Stats): string {
  return stats.isFile()
    ? "a file"
    : stats.isCharacterDevice() || stats.isBlockDevice()
      ? "a device"
      : stats.isFIFO()
        ? "a fifo"
        : "a socket";
}

/**
 * Resolves the parent directory of `path` inside `root`, fresh on every call
 * (the changeset contract, rule 3): walkInRoot's rules, each component
 * lstat'ed (never followed but to walk a symlink inside the root), so the
 * result never leaves it. Missing directories are made (mode 0755,
 * reported through `onCreate`) when `create`; otherwise a missing one gives
 * undefined. `known` skips the lstat of directories already seen in this
 * unpack.
 */
export function resolveParentInRoot(
  root: Buffer,
  path: EntryPath,
  create: boolean,
  onCreate: (dir: ResolvedPath) => void = () => {},
  known?: DiskIndex,
): ResolvedPath | undefined {
  const parent = parentPath(path);
  if (known?.has(parent) === true) return parent as ResolvedPath;
  const child = (stack: readonly Place[], name: Buffer): IndexNode | undefined => {
    const here = stack[stack.length - 1]?.node;
    return here === undefined || known === undefined ? undefined : known.addChild(here, name);
  };
  const steps: WalkSteps<Place> = {
    look(stack, name) {
      const knownChild = known?.knownChild(stack[stack.length - 1]?.node, name);
      if (knownChild !== undefined) return { kind: "dir", node: { name, node: knownChild } };
      const abs = onDisk(root, joinPath([...namesOf(stack), name]));
      const stats = lstatOrUndefined(abs);
      if (stats === undefined) return { kind: "missing" };
      if (stats.isDirectory()) return { kind: "dir", node: { name, node: child(stack, name) } };
      if (stats.isSymbolicLink())
        return {
          kind: "symlink",
          node: { name, node: undefined },
          target: readlinkSync(abs, { encoding: "buffer" }),
        };
      return { kind: "other", node: { name, node: undefined }, what: kindOf(stats) };
    },
    make(stack, name) {
      const made = joinPath([...namesOf(stack), name]);
      mkdirSync(onDisk(root, made), 0o755);
      onCreate(made as ResolvedPath);
      return { name, node: child(stack, name) };
    },
  };
  const stack = walkComponents<Place>(
    { name: undefined, node: known?.root },
    splitPath(parent),
    steps,
    { mode: "parents", create, strict: true },
    path,
  );
  return stack === undefined ? undefined : (joinPath(namesOf(stack)) as ResolvedPath);
}

/** True when `path` and each of its ancestors is a real directory (no symlink followed). */
export function isPlainDirectory(root: Buffer, path: EntryPath, known?: DiskIndex): boolean {
  if (known?.has(path) === true) return true;
  const parts = splitPath(path);
  for (let i = 1; i <= parts.length; i++) {
    if (lstatOrUndefined(onDisk(root, joinPath(parts.slice(0, i))))?.isDirectory() !== true)
      return false;
  }
  return true;
}

/**
 * Resolves a whole path inside `root`, the final component included (for
 * reading files such as /etc/passwd that may be symlinks): every symlink is
 * followed inside the root. Returns the resolved path, or undefined when
 * something on the way is missing.
 */
export function resolvePathInRoot(root: Buffer, path: EntryPath): ResolvedPath | undefined {
  let current = clampToRoot(splitPath(path));
  for (let follows = 0; follows <= MAX_SYMLINK_FOLLOWS; follows++) {
    if (current.length === 0) return current as ResolvedPath;
    const parent = resolveParentInRoot(root, current, false);
    if (parent === undefined) return undefined;
    const name = current.subarray(current.lastIndexOf(0x2f) + 1);
    const resolved = joinPath(parent.length === 0 ? [name] : [parent, name]);
    const stats = lstatOrUndefined(onDisk(root, resolved));
    if (stats === undefined) return undefined;
    if (!stats.isSymbolicLink()) return resolved as ResolvedPath;
    const target = readlinkSync(onDisk(root, resolved), { encoding: "buffer" });
    // The parent is real directories only, so `..` can be applied lexically.
    current = clampToRoot(
      target[0] === 0x2f ? splitPath(target) : [...splitPath(parent), ...splitPath(target)],
    );
  }
  throw new BadEntryError(
    "STRATA_SYMLINK_LOOP",
    `too many symlinks resolving ${displayPath(path)}`,
  );
}

/** Components as a root-relative path, `.` dropped and `..` stopping at the root. */
function clampToRoot(components: readonly Buffer[]): EntryPath {
  const parts: Buffer[] = [];
  for (const part of components) {
    const text = part.toString("latin1");
    if (text === "..") parts.pop();
    else if (text !== ".") parts.push(part);
  }
  return joinPath(parts);
}
