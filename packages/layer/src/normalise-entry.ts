import { LimitExceededError } from "./errors.js";
import { BadEntryError, CorruptLayerError } from "@strata-oci/errors";
import { cleanEntryPath } from "./entry-path.js";
import type { LayerEntry } from "./layer-entry.js";
import type { LayerLimits } from "./limits.js";
import type { TarRecord } from "./tar-reader.js";
import { classifyWhiteout } from "./whiteout.js";

function checkPathLimits(path: Buffer, limits: LayerLimits): void {
  if (path.length > limits.maxPathLength)
    throw new LimitExceededError("maxPathLength", path.length, limits.maxPathLength);
  // memchr for the slashes, no component views: 4 KB paths made this a
  // tenth of the main thread (issue #9).
  let depth = 0;
  for (let start = 0; start < path.length;) {
    let end = path.indexOf(0x2f, start);
    if (end === -1) end = path.length;
    if (end > start) {
      depth++;
      if (end - start > 255) throw new LimitExceededError("maxNameLength", end - start, 255);
    }
    start = end + 1;
  }
  if (depth > limits.maxDepth) throw new LimitExceededError("maxDepth", depth, limits.maxDepth);
}

/** The kernel's bounds: XATTR_NAME_MAX and XATTR_SIZE_MAX. */
const MAX_XATTR_NAME = 255;
const MAX_XATTR_VALUE = 65536;
/** Linux device numbers: 12 bits of major, 20 of minor (a larger one was silently truncated). */
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;

function checkXattrs(xattrs: ReadonlyMap<string, Buffer>): void {
  for (const [name, value] of xattrs) {
    const length = Buffer.byteLength(name);
    if (length === 0 || length > MAX_XATTR_NAME || name.includes("\0")) {
      throw new BadEntryError(
        "STRATA_BAD_XATTR",
        `xattr name of ${length} bytes ` +
          `${JSON.stringify(name.slice(0, 40))} is not one the kernel accepts (1 to ` +
          `${MAX_XATTR_NAME} bytes, no NUL)`,
        {
          hint: "the layer is malformed or hostile",
        },
      );
    }
    if (value.length > MAX_XATTR_VALUE) {
      throw new BadEntryError(
        "STRATA_BAD_XATTR",
        `xattr ${name} has a ${value.length}-byte value; the kernel ` +
          `takes at most ${MAX_XATTR_VALUE}`,
        {
          hint: "the layer is malformed or hostile",
        },
      );
    }
  }
}

function checkDevice(record: TarRecord): void {
  if (record.devMajor > MAX_MAJOR || record.devMinor > MAX_MINOR) {
    throw new CorruptLayerError(
      "STRATA_CORRUPT_LAYER",
      `device number ${record.devMajor}:${record.devMinor} is out of range (major <= ` +
        `${MAX_MAJOR}, minor <= ${MAX_MINOR})`,
      {
        hint: "the layer is malformed or hostile",
      },
    );
  }
}

/**
 * Turns one tar member into a LayerEntry, or undefined for members that are
 * not part of the tree (aufs `.wh..wh.*` metadata). Throws BadEntryError for
 * names and kinds the changeset contract refuses.
 */
export function normaliseEntry(record: TarRecord, limits: LayerLimits): LayerEntry | undefined {
  const path = cleanEntryPath(record.name);
  checkPathLimits(path, limits);
  const whiteout = classifyWhiteout(path);
  switch (whiteout.kind) {
    case "whiteout":
      return { kind: "whiteout", path: whiteout.target };
    case "opaque":
      return { kind: "opaque", path: whiteout.directory };
    case "metadata":
      return undefined;
    case "none":
      break;
  }
  if (record.xattrs.size > 0) checkXattrs(record.xattrs);
  if (record.typeflag === "3" || record.typeflag === "4") checkDevice(record);
  const entry = toEntry(record, path, limits);
  if (path.length === 0 && entry.kind !== "dir") {
    throw new BadEntryError(
      "STRATA_ROOT_NOT_DIRECTORY",
      `an entry for the root itself must be a directory, not a ${entry.kind}`,
      {
        hint: "the layer is malformed or hostile; do not use this image",
      },
    );
  }
  return entry;
}

// Each kind is built as one literal: spreading a shared base object was
// measured at 69-95 ms per 30k entries, most of this function's time.
function toEntry(record: TarRecord, path: Buffer, limits: LayerLimits): LayerEntry {
  const mode = record.mode & 0o7777;
  const { uid, gid, mtime, xattrs } = record;
  switch (record.typeflag) {
    case "0":
    case "\0":
    case "7":
      // Old V7 archives mark directories with a trailing slash only.
      if (record.name[record.name.length - 1] === 0x2f && record.size === 0)
        return { kind: "dir", path, mode, uid, gid, mtime, xattrs };
      return {
        kind: "file",
        path,
        mode,
        uid,
        gid,
        mtime,
        xattrs,
        size: record.size,
        body: record.body,
      };
    case "5":
      return { kind: "dir", path, mode, uid, gid, mtime, xattrs };
    case "2":
      if (record.linkname.length === 0)
        throw new BadEntryError("STRATA_BAD_ENTRY_NAME", "symlink with an empty target");
      if (record.linkname.includes(0))
        throw new BadEntryError("STRATA_BAD_ENTRY_NAME", "symlink target contains a NUL byte");
      return { kind: "symlink", path, mode, uid, gid, mtime, xattrs, target: record.linkname };
    case "1": {
      const target = cleanEntryPath(record.linkname, "hardlink target");
      if (target.length === 0)
        throw new BadEntryError("STRATA_BAD_HARDLINK", "hardlink to the root directory");
      checkPathLimits(target, limits);
      return { kind: "hardlink", path, mode, uid, gid, mtime, xattrs, target };
    }
    case "3":
      return {
        kind: "char",
        path,
        mode,
        uid,
        gid,
        mtime,
        xattrs,
        devMajor: record.devMajor,
        devMinor: record.devMinor,
      };
    case "4":
      return {
        kind: "block",
        path,
        mode,
        uid,
        gid,
        mtime,
        xattrs,
        devMajor: record.devMajor,
        devMinor: record.devMinor,
      };
    case "6":
      return { kind: "fifo", path, mode, uid, gid, mtime, xattrs };
    default:
      throw new CorruptLayerError(
        "STRATA_CORRUPT_LAYER",
        `unsupported tar entry type ${JSON.stringify(record.typeflag)}`,
        {
          hint: "strata reads files, directories, links, devices and fifos only",
        },
      );
  }
}
