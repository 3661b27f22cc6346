// The kernel's table of mounts (/proc/self/mountinfo), and the name strata
// gives its own overlay mounts. A mount's source is free text that only the
// mounter sets: strata's say `strata:<id>:<store>`, so that `umount` finds
// the store and the record of a mount it made, and refuses any other.
import { readFileSync } from "node:fs";
import { SHORT_NAME } from "./records.js";

export interface MountEntry {
  readonly mountPoint: string;
  readonly fstype: string;
  readonly source: string;
}

const TAG = "strata:";

/** The source strata gives the mount with record `id` from the store at `store`. */
export function mountSource(store: string, id: string): string {
  return `${TAG}${id}:${store}`;
}

/** The record id and store of a mount strata made, from its source; undefined for any other. */
export function parseMountSource(source: string): { id: string; store: string } | undefined {
  if (!source.startsWith(TAG)) return undefined;
  const id = source.slice(TAG.length, TAG.length + 12);
  const store = source.slice(TAG.length + 13);
  if (!SHORT_NAME.test(id) || source[TAG.length + 12] !== ":" || !store.startsWith("/"))
    return undefined;
  return { id, store };
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * The mounts whose mount point is `path` (absolute, real), bottom first: the last one is what
 * `path` shows.
 */
export function mountsAt(
  path: string,
  table = readFileSync("/proc/self/mountinfo", "utf8"),
): MountEntry[] {
  const found: MountEntry[] = [];
  for (const line of table.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    const mountPoint = fields[4];
    const fstype = fields[separator + 1];
    const source = fields[separator + 2];
    if (
      separator === -1 ||
      mountPoint === undefined ||
      fstype === undefined ||
      source === undefined
    )
      continue;
    if (unescape(mountPoint) === path)
      found.push({ mountPoint: path, fstype, source: unescape(source) });
  }
  return found;
}
