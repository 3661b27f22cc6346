import { lstatSync, mkdirSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { builtin } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import { copyNodeAttributes } from "@strata-oci/merge";
import { LayerStore } from "./layer-store.js";
import { withStoreLock } from "./lock.js";
import { mountSource, mountsAt, parseMountSource } from "./mount-table.js";
import { newShortName, type MountRecord } from "./records.js";
import {
  openForStore,
  storeImage,
  type StoreUnpackOptions,
  type StoreUnpackResult,
} from "./unpack-to-store.js";

export interface MountOptions extends StoreUnpackOptions {
  /** An existing directory to mount the image's tree on. */
  readonly target: string;
  /**
   * With an upper and work directory of its own (in STORE/mounts), like a container's rootfs; else
   * read-only.
   */
  readonly writable?: boolean | undefined;
}

export interface MountResult {
  readonly target: string;
  readonly store: string;
  /** The mount options given to the kernel (paths relative to the store). */
  readonly options: string;
  /** A writable mount's upper directory (its changes). */
  readonly upper: string | undefined;
  readonly unpacked: StoreUnpackResult;
}

function badTarget(detail: string, hint: string): TargetError {
  return new TargetError("STRATA_BAD_DESTINATION", detail, { hint });
}

/** TARGET as the kernel names it, refused unless it is an existing directory. */
function mountPoint(path: string): string {
  let real: string | undefined;
  try {
    real = realpathSync(path);
  } catch {
    // Reported below, with the others.
  }
  if (real === undefined || !lstatSync(real).isDirectory())
    throw badTarget(
      `${path} is not an existing directory`,
      "mount on, and unmount, an existing directory (mkdir it first)",
    );
  return real;
}

/**
 * Mounts IMAGE's tree on TARGET with the kernel's overlayfs, its layers
 * stored first where the store lacks them. The mount is recorded in the
 * store (gc keeps its layers) and named after its record, so that
 * `unmountImage` finds both. Needs root (a rootless store's layers suit a
 * `userxattr` mount in a user namespace; the options are in the result).
 */
export async function mountImage(options: MountOptions): Promise<MountResult> {
  const target = mountPoint(options.target);
  const { image, store } = await openForStore(options);
  if (target === store.root || target.startsWith(`${store.root}/`))
    throw badTarget(
      `${target} lies inside the layer store ${store.root}`,
      "mount somewhere outside the store",
    );
  return withStoreLock(store.root, "shared", options.signal, async () => {
    const unpacked = await storeImage(store, image, options);
    const id = newShortName();
    // Only lower layers: no redirects followed (strata never writes them; an image cannot, its
    // overlay xattrs are dropped).
    let mountOptions = `lowerdir=${unpacked.lowerdir},redirect_dir=nofollow`;
    let upper: string | undefined;
    if (options.writable === true) {
      const dir = store.mountDir(id);
      mkdirSync(join(dir, "work"), { recursive: true, mode: 0o700 });
      upper = join(dir, "upper");
      mkdirSync(upper, { mode: 0o755 });
      // The merged root shows the upper directory's own attributes: give it the image's.
      const top = unpacked.lowerdir.split(":")[0] as string;
      copyNodeAttributes(Buffer.from(join(store.root, top)), Buffer.from(upper));
      mountOptions += `,upperdir=mounts/${id}/upper,workdir=mounts/${id}/work`;
    }
    if (store.rootless) mountOptions += ",userxattr";
    const record: MountRecord = {
      id,
      target,
      reference: unpacked.image.reference,
      writable: options.writable === true,
      chainIds: unpacked.chainIds,
    };
    store.recordMount(record);
    const run = builtin("node:child_process").spawnSync(
      "mount",
      ["-t", "overlay", mountSource(store.root, id), "-o", mountOptions, target],
      { cwd: store.root, encoding: "utf8" },
    );
    if (run.status !== 0) {
      store.forgetMount(id);
      throw new TargetError(
        "STRATA_MOUNT_FAILED",
        `mount -t overlay on ${target} failed: ${(run.stderr ?? run.error?.message ?? "").trim()}`,
        {
          hint: store.rootless
            ? "an unprivileged overlay mount needs a user namespace (unshare -rm) and a " +
              "kernel with userxattr (5.11+)"
            : "mounting needs root and a kernel with overlayfs",
        },
      );
    }
    return { target, store: store.root, options: mountOptions, upper, unpacked };
  });
}

/**
 * Unmounts TARGET, which must be a mount strata made (its source names its
 * store and record); a writable mount's upper and work directories (its
 * changes) and its record are removed with it. The store is the one the
 * mount names; `store`, when given, must be that one.
 */
export function unmountImage(options: { readonly target: string; readonly store?: string }): {
  readonly target: string;
  readonly store: string;
  readonly removed: string | undefined;
} {
  const target = mountPoint(options.target);
  const top = mountsAt(target).at(-1);
  if (top === undefined)
    throw badTarget(
      `${target} is not a mount point`,
      "strata umount takes a directory that strata mount mounted",
    );
  const tag = top.fstype === "overlay" ? parseMountSource(top.source) : undefined;
  if (tag === undefined)
    throw badTarget(
      `${target} is a ${top.fstype} mount of ${JSON.stringify(top.source)}, not one strata made`,
      "unmount it with umount(8)",
    );
  if (options.store !== undefined && realpathOr(options.store) !== tag.store) {
    throw badTarget(
      `${target} was mounted from the store ${tag.store}, not ${resolve(options.store)}`,
      "leave out --store: umount finds the store from the mount",
    );
  }
  const store = LayerStore.open(tag.store);
  const record = store.mount(tag.id);
  const run = builtin("node:child_process").spawnSync("umount", [target], { encoding: "utf8" });
  if (run.status !== 0)
    throw new TargetError(
      "STRATA_MOUNT_FAILED",
      `umount ${target} failed: ${(run.stderr ?? "").trim()}`,
      { hint: "is anything using it (lsof, fuser -m)?" },
    );
  // A record that names another target is not this mount's: its directories stay.
  if (record !== undefined && record.target !== target)
    return { target, store: store.root, removed: undefined };
  return { target, store: store.root, removed: store.forgetMount(tag.id) };
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}
