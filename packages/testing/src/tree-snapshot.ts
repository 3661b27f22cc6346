import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from "node:fs";
import { childPath, pathKey, type EntryPath } from "@strata-oci/layer";
import { kindOfStats, native, onDisk, type MergedEntry, type MergedTree } from "@strata-oci/merge";
import type { ReferenceModel } from "./model.js";

/** One path of a tree, as compared between the model, strata's disk output and other tools. */
export interface SnapshotNode {
  readonly kind: "dir" | "file" | "symlink" | "char" | "block" | "fifo";
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds, to the millisecond. */
  readonly mtime: number;
  readonly size: number | undefined;
  readonly sha256: string | undefined;
  readonly target: string | undefined;
  readonly device: string | undefined;
  /** name=hex, sorted. */
  readonly xattrs: readonly string[];
  /** Other paths sharing this node's inode, sorted; empty when it has one name. */
  readonly links: readonly string[];
}

/** A whole tree by path (latin1 keys as `pathKey` gives; "" is the root). */
export type TreeSnapshot = Map<string, SnapshotNode>;

function sha(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function xattrList(map: ReadonlyMap<string, Buffer>): string[] {
  return [...map].map(([k, v]) => `${k}=${v.toString("hex")}`).sort();
}

/** Snapshot of the reference model. */
export function snapshotModel(model: ReferenceModel): TreeSnapshot {
  const names = new Map<object, string[]>();
  for (const [key, node] of model.nodes)
    if (node.kind !== "dir") names.set(node, [...(names.get(node) ?? []), key]);
  const out: TreeSnapshot = new Map();
  for (const [key, node] of model.nodes) {
    const others =
      node.kind === "dir" ? [] : (names.get(node) ?? []).filter((k) => k !== key).sort();
    out.set(key, {
      kind: node.kind,
      mode: node.attrs.mode,
      uid: node.attrs.uid,
      gid: node.attrs.gid,
      mtime: node.attrs.mtime,
      size: node.kind === "file" ? node.content.length : undefined,
      sha256: node.kind === "file" ? sha(node.content) : undefined,
      target: node.kind === "symlink" ? node.target.toString("latin1") : undefined,
      device:
        node.kind === "char" || node.kind === "block"
          ? `${node.devMajor}:${node.devMinor}`
          : undefined,
      xattrs: xattrList(node.attrs.xattrs),
      links: others,
    });
  }
  return out;
}

/**
 * Snapshot of a merged tree. It holds no file bytes: `content` gives a
 * file entry's bytes (read back from its layer) where the caller has them;
 * without it files carry their size only.
 */
export function snapshotMerged(
  tree: MergedTree,
  content?: (entry: MergedEntry) => Buffer,
): TreeSnapshot {
  const names = new Map<MergedEntry, string[]>();
  const all = [...tree.walk()];
  for (const { path, entry } of all)
    if (entry.kind !== "dir") names.set(entry, [...(names.get(entry) ?? []), pathKey(path)]);
  const out: TreeSnapshot = new Map();
  for (const { path, entry } of all) {
    const key = pathKey(path);
    const bytes = entry.kind === "file" ? content?.(entry) : undefined;
    out.set(key, {
      kind: entry.kind,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      mtime: entry.mtime,
      size: entry.kind === "file" ? entry.size : undefined,
      sha256: bytes === undefined ? undefined : sha(bytes),
      target: entry.kind === "symlink" ? entry.target?.toString("latin1") : undefined,
      device:
        entry.kind === "char" || entry.kind === "block"
          ? `${entry.devMajor}:${entry.devMinor}`
          : undefined,
      xattrs: xattrList(entry.xattrs),
      links: entry.kind === "dir" ? [] : (names.get(entry) ?? []).filter((k) => k !== key).sort(),
    });
  }
  return out;
}

/** The kind of what lstat saw; undefined for a socket (no tar holds one). Stats or BigIntStats. */
function kindOf(stats: Stats): SnapshotNode["kind"] {
  const kind = kindOfStats(stats);
  if (kind === undefined) throw new Error("socket in tree");
  return kind;
}

/** Snapshot of a directory tree on disk, read without following symlinks. */
export function snapshotDisk(root: string): TreeSnapshot {
  const rootBuf = Buffer.from(root);
  const out: TreeSnapshot = new Map();
  const byInode = new Map<string, string[]>();
  const walk = (path: EntryPath): void => {
    const abs = onDisk(rootBuf, path);
    const stats = lstatSync(abs);
    const kind = kindOf(stats);
    const key = pathKey(path);
    if (kind !== "dir") byInode.set(`${stats.ino}`, [...(byInode.get(`${stats.ino}`) ?? []), key]);
    const xattrs = new Map<string, Buffer>();
    for (const name of native().llistxattr(abs)) xattrs.set(name, native().lgetxattr(abs, name));
    out.set(key, {
      kind,
      mode: stats.mode & 0o7777,
      uid: stats.uid,
      gid: stats.gid,
      mtime: Math.round(stats.mtimeMs) / 1000,
      size: kind === "file" ? stats.size : undefined,
      sha256: kind === "file" ? sha(readFileSync(abs)) : undefined,
      target:
        kind === "symlink"
          ? readlinkSync(abs, { encoding: "buffer" }).toString("latin1")
          : undefined,
      device:
        kind === "char" || kind === "block"
          ? `${Math.floor(stats.rdev / 256) & 0xfff}:` +
            `${(stats.rdev & 0xff) | ((stats.rdev >> 12) & 0xfff00)}`
          : undefined,
      xattrs: xattrList(xattrs),
      links: [],
    });
    if (kind === "dir")
      for (const name of readdirSync(abs, { encoding: "buffer" })) walk(childPath(path, name));
  };
  walk(Buffer.alloc(0));
  for (const keys of byInode.values()) {
    if (keys.length < 2) continue;
    for (const key of keys) {
      const node = out.get(key);
      if (node !== undefined)
        out.set(key, { ...node, links: keys.filter((k) => k !== key).sort() });
    }
  }
  return out;
}

/** Human-readable differences between two snapshots (empty when equal). */
export function diffSnapshots(
  expected: TreeSnapshot,
  actual: TreeSnapshot,
  ignore: ReadonlySet<keyof SnapshotNode> = new Set(),
): string[] {
  const out: string[] = [];
  for (const [key, want] of expected) {
    const got = actual.get(key);
    const name = key === "" ? "/" : Buffer.from(key, "latin1").toString("utf8");
    if (got === undefined) {
      out.push(`${name}: missing (want ${want.kind})`);
      continue;
    }
    for (const field of Object.keys(want) as Array<keyof SnapshotNode>) {
      if (ignore.has(field)) continue;
      const a = JSON.stringify(want[field]);
      const b = JSON.stringify(got[field]);
      if (a !== b) out.push(`${name}: ${field}: want ${a}, got ${b}`);
    }
  }
  for (const key of actual.keys())
    if (!expected.has(key))
      out.push(
        `${key === "" ? "/" : Buffer.from(key, "latin1").toString("utf8")}: unexpected ` +
          `${actual.get(key)?.kind}`,
      );
  return out;
}
