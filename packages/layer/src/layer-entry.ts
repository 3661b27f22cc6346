/**
 * What a layer says, one entry at a time, after normalisation: cleaned
 * byte-exact paths, a closed set of kinds, whiteouts classified.
 */
import { escapeName } from "./name-spelling.js";

/**
 * A cleaned path relative to the root: no leading `/` or `./`, no `.` or `..`
 * components, no trailing `/`, never containing NUL. The empty buffer is the
 * root itself. Bytes, not a string, so that non-UTF-8 names round-trip.
 */
export type EntryPath = Buffer;

/** Attributes every non-whiteout entry carries. */
export interface EntryAttributes {
  readonly path: EntryPath;
  /** Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Modification time in seconds since the epoch (fractional from PAX). */
  readonly mtime: number;
  /** Extended attributes by name; an empty value is a real, kept value. */
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

export interface FileEntry extends EntryAttributes {
  readonly kind: "file";
  readonly size: number;
  /**
   * The file's bytes. Read it before asking for the next entry; a body left
   * unread is skipped when the iteration moves on. Iterable once.
   */
  readonly body: EntryBody;
}

/** A file's bytes: iterable once, asynchronously; some sources also lend what they already hold. */
export interface EntryBody extends AsyncIterable<Buffer> {
  /**
   * The next bytes when they are already in hand (no waiting), null at the
   * end of the body, undefined when the rest must be awaited through the
   * iterator (which then continues where this left off). Same lifetime rules
   * as the iterator's chunks.
   */
  readAvailable?(): Buffer | null | undefined;
}

export interface DirectoryEntry extends EntryAttributes {
  readonly kind: "dir";
}

export interface SymlinkEntry extends EntryAttributes {
  readonly kind: "symlink";
  /** The link's target exactly as stored; never rewritten. */
  readonly target: Buffer;
}

export interface HardlinkEntry extends EntryAttributes {
  readonly kind: "hardlink";
  /** The cleaned path of the entry this one links to (same rules as `path`). */
  readonly target: EntryPath;
}

export interface DeviceEntry extends EntryAttributes {
  readonly kind: "char" | "block";
  readonly devMajor: number;
  readonly devMinor: number;
}

export interface FifoEntry extends EntryAttributes {
  readonly kind: "fifo";
}

/** `.wh.NAME`: removes `path` (D/NAME) as it stood in the lower layers. */
export interface WhiteoutEntry {
  readonly kind: "whiteout";
  readonly path: EntryPath;
}

/** `.wh..wh..opq` in D: removes every lower child of `path` (D). */
export interface OpaqueEntry {
  readonly kind: "opaque";
  readonly path: EntryPath;
}

export type LayerEntry =
  | FileEntry
  | DirectoryEntry
  | SymlinkEntry
  | HardlinkEntry
  | DeviceEntry
  | FifoEntry
  | WhiteoutEntry
  | OpaqueEntry;

export type EntryKind = LayerEntry["kind"];

/** Compile-time exhaustiveness check for switches over closed unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected variant: ${JSON.stringify(value)}`);
}

/** A path as text for messages and map keys (latin1 keeps every byte distinct). */
export function pathKey(path: EntryPath): string {
  return path.toString("latin1");
}

/** The inverse of `pathKey`. */
export function pathFromKey(key: string): EntryPath {
  return Buffer.from(key, "latin1");
}

/**
 * A path for people (name-spelling.ts: controls and undecodable bytes escaped, so it is safe on a
 * terminal and round-trips), `/` for the root.
 */
export function displayPath(path: EntryPath): string {
  return path.length === 0 ? "/" : escapeName(path);
}
