import { BadEntryError } from "@strata-oci/errors";
import { baseName, childPath, parentPath } from "./entry-path.js";
import type { EntryPath } from "./layer-entry.js";

const PREFIX = Buffer.from(".wh.");
const META_PREFIX = Buffer.from(".wh..wh.");
const OPAQUE = Buffer.from(".wh..wh..opq");

/** What a cleaned entry path means with respect to whiteouts. */
export type Whiteout =
  | { readonly kind: "none" }
  | { readonly kind: "whiteout"; readonly target: EntryPath }
  | { readonly kind: "opaque"; readonly directory: EntryPath }
  /** Other `.wh..wh.*` names: aufs bookkeeping, never part of the tree. */
  | { readonly kind: "metadata" };

function startsWith(name: Buffer, prefix: Buffer): boolean {
  return name.length >= prefix.length && name.subarray(0, prefix.length).equals(prefix);
}

/**
 * Classifies an entry by its base name. `.wh.` with an empty name, `.wh..`
 * and `.wh...` would whiteout the directory itself or its parent: refused.
 */
export function classifyWhiteout(path: EntryPath): Whiteout {
  if (path.length === 0) return { kind: "none" };
  const name = baseName(path);
  if (!startsWith(name, PREFIX)) return { kind: "none" };
  const dir = parentPath(path);
  if (name.equals(OPAQUE)) return { kind: "opaque", directory: dir };
  if (startsWith(name, META_PREFIX)) return { kind: "metadata" };
  const target = name.subarray(PREFIX.length);
  const text = target.toString("latin1");
  if (text === "" || text === "." || text === "..") {
    throw new BadEntryError(
      "STRATA_BAD_WHITEOUT",
      `whiteout ${JSON.stringify(name.toString("utf8"))} names no entry`,
      {
        hint: "the layer is malformed or hostile; do not use this image",
      },
    );
  }
  return { kind: "whiteout", target: childPath(dir, target) };
}
