import type { Stats } from "node:fs";

/** What a tar entry can be, as a node on disk is one (sockets have no tar entry). */
export type NodeKind = "dir" | "file" | "symlink" | "char" | "block" | "fifo";

/** The kind of a node from its lstat; undefined for a socket. */
export function kindOfStats(
  stats: Pick<
    Stats,
    "isDirectory" | "isFile" | "isSymbolicLink" | "isCharacterDevice" | "isBlockDevice" | "isFIFO"
  >,
): NodeKind | undefined {
  if (stats.isDirectory()) return "dir";
  if (stats.isFile()) return "file";
  if (stats.isSymbolicLink()) return "symlink";
  if (stats.isCharacterDevice()) return "char";
  if (stats.isBlockDevice()) return "block";
  if (stats.isFIFO()) return "fifo";
  return undefined;
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** The S_IF* type bits mknod takes for a device or a fifo. */
export function deviceType(kind: "char" | "block" | "fifo"): number {
  return kind === "char" ? S_IFCHR : kind === "block" ? S_IFBLK : S_IFIFO;
}
