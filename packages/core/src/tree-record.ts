// What repack needs of an unpacked tree, kept when it is unpacked (umoci
// keeps an mtree for the same reason): for every entry its kind, inode,
// change time and link count. An entry whose inode and ctime are those of
// the record has not changed since: any write, chmod, chown, xattr, link or
// rename sets ctime to the present, and nothing can set it back. So repack
// compares the changed tree against the record instead of against a second
// unpack of the image, and reads only what changed.
import { randomBytes } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  futimesSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type BigIntStats,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { childPath, DEFAULT_LAYER_LIMITS, type EntryPath } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import { replacedFile } from "@strata-oci/image";
import { kindOfStats, onDisk } from "@strata-oci/merge";

export type RecordedKind = "dir" | "file" | "symlink" | "char" | "block" | "fifo";

export interface RecordedEntry {
  readonly kind: RecordedKind;
  readonly ino: bigint;
  readonly ctimeNs: bigint;
  readonly nlink: number;
}

const MAGIC = "strata-tree-record";
const VERSION = "1";
const KIND_CHARS: Record<RecordedKind, string> = {
  dir: "d",
  file: "f",
  symlink: "l",
  char: "c",
  block: "b",
  fifo: "p",
};
const KINDS = new Map(
  Object.entries(KIND_CHARS).map(([kind, char]) => [char, kind as RecordedKind]),
);

/**
 * The recorded tree: its identity (the chain ID of the image's last layer; the root's device and
 * inode) and its entries.
 */
export class TreeRecord {
  readonly #entries = new Map<string, RecordedEntry>();
  readonly #children = new Map<string, Buffer[]>();

  constructor(
    readonly chainId: string,
    readonly dev: bigint,
    readonly ino: bigint,
  ) {}

  /** Adds `path`; its parent must have been added first. */
  add(path: EntryPath, entry: RecordedEntry): void {
    const key = path.toString("latin1");
    this.#entries.set(key, entry);
    if (path.length === 0) return;
    const slash = path.lastIndexOf(0x2f);
    const parent = slash < 0 ? "" : key.slice(0, slash);
    const siblings = this.#children.get(parent);
    const name = slash < 0 ? path : path.subarray(slash + 1);
    if (siblings === undefined) this.#children.set(parent, [name]);
    else siblings.push(name);
  }

  /** Adds `path` as lstat found it; sockets are left out (a tar cannot hold them). */
  addStats(path: EntryPath, stats: BigIntStats): void {
    const entry = recordedEntry(stats);
    if (entry !== undefined) this.add(path, entry);
  }

  entry(path: EntryPath): RecordedEntry | undefined {
    return this.#entries.get(path.toString("latin1"));
  }

  /** Names in directory `path`, in byte order. */
  names(path: EntryPath): Buffer[] {
    return this.#children.get(path.toString("latin1")) ?? [];
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Every entry, in the order added (parents first). */
  *entries(): Generator<[EntryPath, RecordedEntry]> {
    for (const [key, entry] of this.#entries) yield [Buffer.from(key, "latin1"), entry];
  }
}

/** The record's line of one entry; sockets have none (a tar cannot hold them). */
function recordedEntry(stats: BigIntStats): RecordedEntry | undefined {
  const kind = kindOfStats(stats);
  return kind === undefined
    ? undefined
    : { kind, ino: stats.ino, ctimeNs: stats.ctimeNs, nlink: Number(stats.nlink) };
}

/**
 * Every entry of the tree at `dir` (symlinks not followed), parents before children, names in byte
 * order.
 */
function* walkTree(dir: string): Generator<[EntryPath, BigIntStats]> {
  const root = Buffer.from(dir);
  const pending: EntryPath[] = [Buffer.alloc(0)];
  while (pending.length > 0) {
    const path = pending.pop() as EntryPath;
    const stats = lstatSync(onDisk(root, path), { bigint: true });
    yield [path, stats];
    if (!stats.isDirectory()) continue;
    const names = readdirSync(onDisk(root, path), { encoding: "buffer" }).sort(Buffer.compare);
    for (let i = names.length - 1; i >= 0; i--) pending.push(childPath(path, names[i] as Buffer));
  }
}

/** The record of the tree at `dir`, the tree of the layers whose last chain ID is `chainId`. */
export function recordTree(dir: string, chainId: string): TreeRecord {
  const rootStats = lstatSync(dir, { bigint: true });
  const record = new TreeRecord(chainId, rootStats.dev, rootStats.ino);
  for (const [path, stats] of walkTree(dir)) record.addStats(path, stats);
  return record;
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * Refuses, before any work, a record FILE that could not be written at the end (when a failure
 * would come after an unpack or a new image was made): FILE not a regular file or a new name,
 * or its directory missing or not writable.
 */
export function checkRecordWritable(record: string): void {
  replacedFile(record, "the record");
  const dir = dirname(resolve(record));
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) {
    throw new TargetError(
      "STRATA_BAD_RECORD",
      `the record ${record} would go into ${dir}, which is not a directory`,
      { hint: "write the record into a directory that exists, beside DEST" },
    );
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new TargetError(
      "STRATA_BAD_RECORD",
      `the record ${record} cannot be written into ${dir}: ${code}`,
      { hint: "write the record into a directory you can write, beside DEST", cause },
    );
  }
}

/**
 * Writes `record` to `file` (atomically) as the record of the tree of
 * `chainId` (by default the one it was made for), and returns only once the clock
 * that stamps ctimes has moved past the newest ctime recorded: the kernel's
 * timestamps are coarse (a few ms), so a change made in the same tick as the
 * unpack would otherwise keep the recorded ctime and be missed.
 */
export function saveTreeRecord(record: TreeRecord, given: string, chainId = record.chainId): void {
  const file = replacedFile(given, "the record");
  // A fresh name, created (never opened if it exists: a FIFO or a link planted there), then renamed
  // over FILE.
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  let fd: number;
  try {
    fd = openSync(temp, "wx", 0o644);
  } catch (error) {
    throw new TargetError(
      "STRATA_FS_ERROR",
      `cannot write the record ${file}: ${(error as Error).message}`,
      {
        hint:
          "the record goes into a directory that exists, outside the tree (a bundle's DIR " +
          "exists only once complete: write it beside DIR)",
      },
    );
  }
  try {
    const lines: string[] = [`${MAGIC} ${VERSION} ${chainId} ${record.dev} ${record.ino}\n`];
    let newest = 0n;
    for (const [path, entry] of record.entries()) {
      if (entry.ctimeNs > newest) newest = entry.ctimeNs;
      lines.push(
        `${KIND_CHARS[entry.kind]} ${entry.ino} ${entry.ctimeNs} ${entry.nlink} /` +
          `${path.toString("hex")}\n`,
      );
      if (lines.length >= 4096) writeSync(fd, lines.splice(0).join(""));
    }
    writeSync(fd, lines.join(""));
    while (fstatSync(fd, { bigint: true }).ctimeNs <= newest) {
      sleep(1);
      futimesSync(fd, new Date(), new Date());
    }
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, file);
}

function badRecord(file: string, detail: string): TargetError {
  return new TargetError("STRATA_BAD_RECORD", `${file} is not a strata tree record: ${detail}`, {
    hint: "give the file that `strata unpack --record FILE` wrote, or repack without --record",
  });
}

/** The most entries a record may hold: as many as an unpack within the default limits writes. */
const MAX_RECORD_ENTRIES = DEFAULT_LAYER_LIMITS.maxEntries;
/** A line: kind, three numbers, and a path of at most maxPathLength bytes in hex. */
const MAX_LINE = 3 * 24 + 2 * DEFAULT_LAYER_LIMITS.maxPathLength + 16;
const READ_CHUNK = 1 << 20;

/**
 * The record file opened for reading: a regular file (a FIFO is not waited on, a device not read).
 */
function openRecord(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw badRecord(file, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw badRecord(file, "not a regular file");
  }
  return fd;
}

/** The lines of the record at `file`, read a chunk at a time, each at most MAX_LINE bytes. */
function* recordLines(file: string): Generator<string> {
  const fd = openRecord(file);
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let rest = "";
    for (let n; (n = readSync(fd, chunk, 0, READ_CHUNK, null)) > 0;) {
      const lines = (rest + chunk.toString("latin1", 0, n)).split("\n");
      rest = lines.pop() as string;
      if (rest.length > MAX_LINE) throw badRecord(file, "a line longer than any entry's");
      yield* lines;
    }
    if (rest !== "") yield rest;
  } finally {
    closeSync(fd);
  }
}

/** A recorded path: the root (empty), or names that are not empty, `.` or `..` and hold no NUL. */
function isRecordablePath(path: Buffer): boolean {
  if (path.length === 0) return true;
  if (path.includes(0)) return false;
  return path
    .toString("latin1")
    .split("/")
    .every((name) => name !== "" && name !== "." && name !== "..");
}

/** Reads a record that saveTreeRecord wrote, refusing anything else (STRATA_BAD_RECORD). */
export function readTreeRecord(file: string): TreeRecord {
  const lines = recordLines(file);
  const [magic, version, chainId, dev, ino] = (lines.next().value ?? "").split(" ");
  if (
    magic !== MAGIC ||
    version !== VERSION ||
    chainId === undefined ||
    !/^\d+$/.test(dev ?? "") ||
    !/^\d+$/.test(ino ?? "")
  )
    throw badRecord(file, "no record header");
  const record = new TreeRecord(chainId, BigInt(dev as string), BigInt(ino as string));
  let number = 1;
  for (const line of lines) {
    number++;
    const match = /^([dflcbp]) (\d{1,20}) (\d{1,24}) (\d{1,10}) \/((?:[0-9a-f]{2})*)$/.exec(line);
    if (match === null) throw badRecord(file, `line ${number} is malformed`);
    if (record.size >= MAX_RECORD_ENTRIES)
      throw badRecord(file, `more than ${MAX_RECORD_ENTRIES} entries`);
    const [, kind, entryIno, ctime, nlink, hex] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const path = Buffer.from(hex, "hex");
    if (!isRecordablePath(path))
      throw badRecord(
        file,
        `line ${number} names no path a tree can hold (empty, ".", ".." or NUL)`,
      );
    if (
      path.length > 0 &&
      record.entry(
        path.lastIndexOf(0x2f) < 0 ? Buffer.alloc(0) : path.subarray(0, path.lastIndexOf(0x2f)),
      )?.kind !== "dir"
    ) {
      throw badRecord(
        file,
        `line ${number} names a path whose parent is not a directory recorded before it`,
      );
    }
    if (record.entry(path) !== undefined)
      throw badRecord(file, `line ${number} names a path recorded before`);
    record.add(path, {
      kind: KINDS.get(kind) as RecordedKind,
      ino: BigInt(entryIno),
      ctimeNs: BigInt(ctime),
      nlink: Number(nlink),
    });
  }
  if (record.entry(Buffer.alloc(0))?.kind !== "dir") throw badRecord(file, "no root directory");
  return record;
}
