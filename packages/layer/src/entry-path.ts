import { BadEntryError } from "@strata-oci/errors";
import type { EntryPath } from "./layer-entry.js";

const SLASH = 0x2f;
const DOT = 0x2e;

function isDotDot(part: Buffer): boolean {
  return part.length === 2 && part[0] === DOT && part[1] === DOT;
}

function isDot(part: Buffer): boolean {
  return part.length === 1 && part[0] === DOT;
}

/** Splits a byte path on `/`, dropping empty components. */
export function splitPath(path: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === SLASH) {
      if (i > start) parts.push(path.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

const SLASH_BUFFER = Buffer.from("/");
const EMPTY = Buffer.alloc(0);

/** Joins components with `/`. */
export function joinPath(parts: readonly Buffer[]): Buffer {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0] as Buffer;
  const out: Buffer[] = [];
  parts.forEach((part, i) => {
    if (i > 0) out.push(SLASH_BUFFER);
    out.push(part);
  });
  return Buffer.concat(out);
}

/**
 * True when a name needs no cleaning: no leading `/`, no empty, `.` or `..` component, no trailing
 * `/`.
 */
function isClean(raw: Buffer): boolean {
  if (raw.length === 0 || raw[0] === SLASH || raw[raw.length - 1] === SLASH) return false;
  // memchr for the slashes: a byte loop cost 5% of unpacking 4 KB paths.
  for (let start = 0; start <= raw.length;) {
    let end = raw.indexOf(SLASH, start);
    if (end === -1) end = raw.length;
    const length = end - start;
    if (length === 0) return false;
    if (raw[start] === DOT && (length === 1 || (length === 2 && raw[start + 1] === DOT)))
      return false;
    start = end + 1;
  }
  return true;
}

/**
 * Cleans a name from a tar header into an EntryPath: strips leading `/` and
 * `./`, resolves `.` and `..` lexically, and refuses a name that is empty,
 * contains NUL, or climbs above the root. `.`, `./` and `/` give the root
 * (the empty path).
 */
export function cleanEntryPath(raw: Buffer, what = "entry name"): EntryPath {
  if (raw.length === 0) throw new BadEntryError("STRATA_BAD_ENTRY_NAME", `empty ${what}`);
  if (raw.includes(0))
    throw new BadEntryError("STRATA_BAD_ENTRY_NAME", `${what} contains a NUL byte`);
  if (isClean(raw)) return raw;
  const parts: Buffer[] = [];
  for (const part of splitPath(raw)) {
    if (isDot(part)) continue;
    if (isDotDot(part)) {
      if (parts.length === 0) {
        throw new BadEntryError(
          "STRATA_UNSAFE_PATH",
          `${what} ${JSON.stringify(raw.toString("utf8"))} climbs above the root`,
          {
            hint: "the layer is malformed or hostile; do not use this image",
          },
        );
      }
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return joinPath(parts);
}

/** The parent of a non-root path (the root for a top-level name). */
export function parentPath(path: EntryPath): EntryPath {
  const slash = path.lastIndexOf(SLASH);
  return slash === -1 ? Buffer.alloc(0) : path.subarray(0, slash);
}

/** The last component of a non-root path. */
export function baseName(path: EntryPath): Buffer {
  const slash = path.lastIndexOf(SLASH);
  return slash === -1 ? path : path.subarray(slash + 1);
}

/** `parent/name`, or `name` when the parent is the root. */
export function childPath(parent: EntryPath, name: Buffer): EntryPath {
  return parent.length === 0 ? name : Buffer.concat([parent, SLASH_BUFFER, name]);
}

/** True when `path` is `ancestor` or lies below it. */
export function isWithin(path: EntryPath, ancestor: EntryPath): boolean {
  if (ancestor.length === 0) return true;
  if (path.length < ancestor.length) return false;
  if (!path.subarray(0, ancestor.length).equals(ancestor)) return false;
  return path.length === ancestor.length || path[ancestor.length] === SLASH;
}
