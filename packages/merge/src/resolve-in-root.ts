import { lstatSync, mkdirSync, readlinkSync, type Stats } from "node:fs";
import { displayPath, joinPath, parentPath, splitPath, type EntryPath } from "@strata-oci/layer";
import { BadEntryError } from "@strata-oci/errors";
import type { DiskIndex, IndexNode } from "./disk-index.js";


/** Symlinks one resolution may follow: the kernel's own bound (ELOOP). */
export const MAX_SYMLINK_FOLLOWS = 40;

/** Components one parent resolution may walk, symlink targets included. */
export const MAX_RESOLVE_STEPS = 4096;

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

/**
 * Resolves the parent directory of `path` inside `root`, fresh on every call
 * (DESIGN.md rule 3): symlinks are followed with absolute targets taken from
 * the root and `..` stopping at the root, so the result never leaves it.
 * Missing directories are made (mode 0755, reported through `onCreate`) when
 * `create`; otherwise a missing one gives undefined. The reference model has
 * its own copy of this walk on purpose: it is the judge of this one.
 * `known` skips the lstat of directories already seen in this unpack.
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
  const pending = splitPath(parent);
  const resolved: Buffer[] = [];
  // nodes[i]: the index node of resolved[0..i) (each one a known directory).
  const nodes: (IndexNode | undefined)[] = [known?.root];
  let follows = 0;
  let steps = 0;
  while (pending.length > 0) {
    // 40 symlinks (the kernel's ELOOP bound) of up to 4 KiB each can still
    // expand to ~80k components; chains of them, re-resolved for every entry,
    // ran for minutes (issue #9). No real image needs more than this.
    if (++steps > MAX_RESOLVE_STEPS) {
      throw new BadEntryError("STRATA_SYMLINK_LOOP", `resolving ${displayPath(path)} walks more than ${MAX_RESOLVE_STEPS} components through symlinks`, {
        hint: "the layer chains symlinks to make path resolution slow; do not use this image",
      });
    }
    const part = pending.shift() as Buffer;
    if (isDot(part)) continue;
    if (isDotDot(part)) {
      if (resolved.length > 0) {
        resolved.pop();
        nodes.pop();
      }
      continue;
    }
    const here = nodes[nodes.length - 1];
    const knownChild = known?.knownChild(here, part);
    if (knownChild !== undefined) {
      resolved.push(part);
      nodes.push(knownChild);
      continue;
    }
    const candidate = joinPath([...resolved, part]);
    const abs = onDisk(root, candidate);
    const stats = lstatOrUndefined(abs);
    if (stats === undefined || stats.isDirectory()) {
      if (stats === undefined) {
        if (!create) return undefined;
        mkdirSync(abs, 0o755);
        onCreate(candidate as ResolvedPath);
      }
      resolved.push(part);
      nodes.push(here === undefined || known === undefined ? undefined : known.addChild(here, part));
    } else if (stats.isSymbolicLink()) {
      if (++follows > MAX_SYMLINK_FOLLOWS) {
        throw new BadEntryError("STRATA_SYMLINK_LOOP", `too many symlinks resolving ${displayPath(path)}`);
      }
      const target = readlinkSync(abs, { encoding: "buffer" });
      if (target[0] === 0x2f) {
        resolved.length = 0;
        nodes.length = 1;
      }
      pending.unshift(...splitPath(target));
    } else {
      throw new BadEntryError("STRATA_PARENT_NOT_DIRECTORY", `a parent of ${displayPath(path)} is not a directory`);
    }
  }
  return joinPath(resolved) as ResolvedPath;
}

function isDot(part: Buffer): boolean {
  return part.length === 1 && part[0] === 0x2e;
}

function isDotDot(part: Buffer): boolean {
  return part.length === 2 && part[0] === 0x2e && part[1] === 0x2e;
}

/** True when `path` and each of its ancestors is a real directory (no symlink followed). */
export function isPlainDirectory(root: Buffer, path: EntryPath, known?: DiskIndex): boolean {
  if (known?.has(path) === true) return true;
  const parts = splitPath(path);
  for (let i = 1; i <= parts.length; i++) {
    if (lstatOrUndefined(onDisk(root, joinPath(parts.slice(0, i))))?.isDirectory() !== true) return false;
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
    current = clampToRoot(target[0] === 0x2f ? splitPath(target) : [...splitPath(parent), ...splitPath(target)]);
  }
  throw new BadEntryError("STRATA_SYMLINK_LOOP", `too many symlinks resolving ${displayPath(path)}`);
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
