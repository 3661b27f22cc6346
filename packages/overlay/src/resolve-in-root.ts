import { lstatSync, mkdirSync, readlinkSync, type Stats } from "node:fs";
import { BadEntryError, displayPath, joinPath, parentPath, splitPath, type EntryPath } from "@strata/layer";
import { MAX_SYMLINK_FOLLOWS } from "./model.js";

/** A path inside the root whose every component was checked to be a real directory (no symlink). */
export type ResolvedPath = EntryPath & { readonly __resolvedInRoot: unique symbol };

/** The absolute on-disk location of a path inside `root`. */
export function onDisk(root: Buffer, path: EntryPath): Buffer {
  return path.length === 0 ? root : Buffer.concat([root, Buffer.from("/"), path]);
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
 */
export function resolveParentInRoot(
  root: Buffer,
  path: EntryPath,
  create: boolean,
  onCreate: (dir: ResolvedPath) => void = () => {},
): ResolvedPath | undefined {
  const pending = splitPath(parentPath(path));
  const resolved: Buffer[] = [];
  let follows = 0;
  while (pending.length > 0) {
    const part = pending.shift() as Buffer;
    const text = part.toString("latin1");
    if (text === ".") continue;
    if (text === "..") {
      resolved.pop();
      continue;
    }
    const candidate = joinPath([...resolved, part]);
    const abs = onDisk(root, candidate);
    const stats = lstatOrUndefined(abs);
    if (stats === undefined) {
      if (!create) return undefined;
      mkdirSync(abs, 0o755);
      onCreate(candidate as ResolvedPath);
      resolved.push(part);
    } else if (stats.isDirectory()) {
      resolved.push(part);
    } else if (stats.isSymbolicLink()) {
      if (++follows > MAX_SYMLINK_FOLLOWS) {
        throw new BadEntryError("STRATA_SYMLINK_LOOP", `too many symlinks resolving ${displayPath(path)}`);
      }
      const target = readlinkSync(abs, { encoding: "buffer" });
      if (target[0] === 0x2f) resolved.length = 0;
      pending.unshift(...splitPath(target));
    } else {
      throw new BadEntryError("STRATA_PARENT_NOT_DIRECTORY", `a parent of ${displayPath(path)} is not a directory`);
    }
  }
  return joinPath(resolved) as ResolvedPath;
}

/** True when `path` and each of its ancestors is a real directory (no symlink followed). */
export function isPlainDirectory(root: Buffer, path: EntryPath): boolean {
  const parts = splitPath(path);
  for (let i = 1; i <= parts.length; i++) {
    if (lstatOrUndefined(onDisk(root, joinPath(parts.slice(0, i))))?.isDirectory() !== true) return false;
  }
  return true;
}
