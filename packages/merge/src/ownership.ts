import type { EntryAttributes } from "@strata-oci/layer";
import { encodeRootlessOwner, ROOTLESS_OWNER_XATTR } from "./rootless-owner.js";

/**
 * Who owns what gets written. Privileged: the entries' owners are applied.
 * Rootless: everything is owned by `uid`/`gid` (the unpacking user) and the
 * entries' owners are recorded in `user.rootlesscontainers`, as umoci does;
 * devices become empty files (fifos need no privilege and stay fifos).
 */
export interface OwnershipPolicy {
  readonly privileged: boolean;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Rootless unless told otherwise: the one place that decides (root writes owners, others record
 * them).
 */
export function resolveRootless(rootless: boolean | undefined): boolean {
  return rootless ?? (process.geteuid?.() ?? 0) !== 0;
}

/** The policy of this process: privileged when root and not asked to be rootless. */
export function ownershipFor(rootless: boolean): OwnershipPolicy {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  return { privileged: uid === 0 && !rootless, uid, gid };
}

const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

/** Owner and xattrs as they land on disk for an entry of `kind`. */
export function ownedAttributes(
  attrs: EntryAttributes,
  kind: string,
  policy: OwnershipPolicy,
): { uid: number; gid: number; xattrs: ReadonlyMap<string, Buffer> } {
  // The common case (privileged, no xattrs) allocates nothing: this runs for every entry.
  if (policy.privileged && attrs.xattrs.size === 0)
    return { uid: attrs.uid, gid: attrs.gid, xattrs: NO_XATTRS };
  const xattrs = new Map(attrs.xattrs);
  // Linux allows user.* xattrs only on regular files and directories.
  if (kind !== "file" && kind !== "dir")
    for (const name of xattrs.keys()) if (name.startsWith("user.")) xattrs.delete(name);
  if (policy.privileged) return { uid: attrs.uid, gid: attrs.gid, xattrs };
  xattrs.delete(ROOTLESS_OWNER_XATTR);
  // user.* xattrs cannot be set on symlinks, so their owner goes unrecorded.
  const record =
    kind === "file" || kind === "dir" ? encodeRootlessOwner(attrs.uid, attrs.gid) : undefined;
  if (record !== undefined) xattrs.set(ROOTLESS_OWNER_XATTR, record);
  return { uid: policy.uid, gid: policy.gid, xattrs };
}
