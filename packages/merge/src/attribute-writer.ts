import { chmodSync, fchmodSync, fchownSync, lchownSync, lutimesSync, readFileSync } from "node:fs";
import { type EntryAttributes } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import type { PathState } from "./disk-index.js";
import { nativeCalls } from "./native.js";
import { ownedAttributes, type OwnershipPolicy } from "./ownership.js";

/** Something strata could not reproduce exactly and worked around. */
export interface UnpackWarning {
  readonly kind:
    | "device-replaced"
    | "xattr-skipped"
    | "overlay-xattr-dropped"
    | "platform-mismatch"
    | "spec-deviation";
  readonly path: string;
  readonly detail: string;
}

/**
 * A time for Node's utimes calls. Node turns a negative number into "now";
 * a Date before 1970 it passes on (GNU tar and PAX carry such times).
 */
export function fsTime(seconds: number): number | Date {
  return seconds >= 0 ? seconds : new Date(seconds * 1000);
}

const UMASK_LINE = /^Umask:\s*([0-7]+)$/m;

/**
 * This process's umask, read without changing it; undefined when unknown (then every file gets an
 * fchmod).
 */
function readUmask(): number | undefined {
  try {
    const match = UMASK_LINE.exec(readFileSync("/proc/self/status", "utf8"));
    return match?.[1] === undefined ? undefined : parseInt(match[1], 8);
  } catch {
    return undefined;
  }
}

/**
 * Sets owners, modes, xattrs and times on what the disk target creates, in
 * the contract's order (owner, mode, xattrs, times), with as few syscalls as
 * the case allows.
 */
export class AttributeWriter {
  readonly #policy: OwnershipPolicy;
  readonly #onWarning: ((warning: UnpackWarning) => void) | undefined;
  readonly #umask = readUmask();
  readonly #euid = process.geteuid?.() ?? -1;
  readonly #egid = process.getegid?.() ?? -1;

  constructor(policy: OwnershipPolicy, onWarning: ((warning: UnpackWarning) => void) | undefined) {
    this.#policy = policy;
    this.#onWarning = onWarning;
  }

  /**
   * Owner and mode of a file just written through `fd`; skips what creation
   * already got right. `parentSetgid`: the parent may have given it its group
   * (a stale true only costs an fchown).
   */
  fileOwnerAndMode(fd: number, entry: EntryAttributes, parentSetgid: boolean): void {
    const owned = ownedAttributes(entry, "file", this.#policy);
    // A new file is ours (euid:egid), unless a setgid parent gave it its group.
    const alreadyOwned = owned.uid === this.#euid && owned.gid === this.#egid && !parentSetgid;
    if (this.#policy.privileged && !alreadyOwned) fchownSync(fd, owned.uid, owned.gid);
    if (!this.fitsUmask(entry.mode)) fchmodSync(fd, entry.mode);
  }

  /**
   * `dir` is the directory's state, given for directories only: its final mode and setgid bit are
   * kept there.
   */
  ownerAndMode(abs: Buffer, entry: EntryAttributes, kind: string, dir?: PathState): void {
    const owned = ownedAttributes(entry, kind, this.#policy);
    if (this.#policy.privileged) lchownSync(abs, owned.uid, owned.gid);
    // Without privilege a 0555 directory would refuse its own children: keep
    // it owner-writable until finish() gives it its mode (as umoci does).
    if (dir !== undefined && !this.#policy.privileged && (entry.mode & 0o700) !== 0o700) {
      chmodSync(abs, entry.mode | 0o700);
      dir.dirMode = entry.mode;
      return;
    }
    if (dir !== undefined) {
      dir.dirMode = undefined;
      dir.setgid = (entry.mode & 0o2000) !== 0;
    }
    // chmod follows symlinks; symlinks have no mode of their own on Linux.
    if (kind !== "symlink") chmodSync(abs, entry.mode);
  }

  xattrs(abs: Buffer, entry: EntryAttributes, kind: string, replace: boolean): void {
    const { xattrs } = ownedAttributes(entry, kind, this.#policy);
    if (xattrs.size === 0 && !replace) return;
    const calls = nativeCalls();
    if (calls === undefined) {
      // Without the addon no xattr was ever written, so none needs replacing.
      for (const name of xattrs.keys())
        this.#onWarning?.({
          kind: "xattr-skipped",
          path: abs.toString("utf8"),
          detail: `${name}: strata's native addon is unavailable`,
        });
      return;
    }
    if (replace) {
      for (const name of calls.llistxattr(abs))
        if (!xattrs.has(name)) calls.lremovexattr(abs, name);
    }
    for (const [name, value] of xattrs) {
      try {
        calls.lsetxattr(abs, name, value);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const tolerated = code === "ENOTSUP" || (code === "EPERM" && !this.#policy.privileged);
        // ext4 keeps all of a file's xattrs in one block: a large value is ENOSPC there, not a full
        // disk.
        if (code === "ENOSPC" || code === "E2BIG" || code === "ERANGE")
          throw xattrTooLarge(name, value, code, error);
        if (!tolerated) throw error;
        this.#onWarning?.({
          kind: "xattr-skipped",
          path: abs.toString("utf8"),
          detail: `${name}: ${code}`,
        });
      }
    }
  }

  /** Owner, mode, xattrs, times for nodes made by path (symlinks, devices). */
  finishNode(abs: Buffer, entry: EntryAttributes, kind: string): void {
    this.ownerAndMode(abs, entry, kind);
    this.xattrs(abs, entry, kind, false);
    lutimesSync(abs, fsTime(entry.mtime), fsTime(entry.mtime));
  }

  /**
   * The mode to create a file with: its own when the umask leaves it whole and
   * it has no setuid/setgid/sticky bit (then no fchmod is needed), else 0600.
   */
  creationMode(mode: number): number {
    return this.fitsUmask(mode) ? mode : 0o600;
  }

  fitsUmask(mode: number): boolean {
    return this.#umask !== undefined && (mode & 0o7000) === 0 && (mode & ~this.#umask) === mode;
  }
}

function xattrTooLarge(name: string, value: Buffer, code: string, cause: unknown): TargetError {
  return new TargetError(
    "STRATA_BAD_XATTR",
    `the destination's filesystem refused xattr ${name} of ${value.length} bytes (${code})`,
    {
      cause,
      hint:
        "ext4 holds a file's xattrs in one block (about 4 KB); unpack onto xfs or tmpfs, " +
        "or check free space",
    },
  );
}
