import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ImageConfig } from "@strata-oci/image";
import { withErrorContext } from "@strata-oci/errors";
import {
  checkDestination,
  commitStaging,
  createStaging,
  discardStaging,
  removeLeftoverStagings,
  resolveRootless,
} from "@strata-oci/merge";
import { unpack, type UnpackOptions, type UnpackResult } from "@strata-oci/core";
import { mountImage, unmountImage, type MountOptions, type MountResult } from "@strata-oci/store";
import { readAccounts } from "./accounts.js";
import {
  runtimeConfig,
  type BundleWarning,
  type RuntimeConfig,
  type RuntimeOverrides,
} from "./runtime-config.js";

export interface BundleOptions
  extends Omit<UnpackOptions, "dest">, Omit<RuntimeOverrides, "rootless" | "onWarning"> {
  /**
   * The bundle directory to create (absent or empty): DIR/config.json and DIR/rootfs. Mode 0700.
   */
  readonly dir: string;
}

export interface BundleResult {
  readonly dir: string;
  readonly unpack: UnpackResult;
  /** The config.json written. */
  readonly config: RuntimeConfig;
  /**
   * Where the config differs from what the image asks (the unpack's own warnings are in `unpack`).
   */
  readonly warnings: readonly BundleWarning[];
}

/**
 * config.json for the image whose tree is at `rootfs` (its own /etc/passwd and /etc/group), with
 * what the caller overrides.
 */
function configFor(
  imageConfig: ImageConfig,
  rootfs: string,
  options: Omit<RuntimeOverrides, "rootless" | "onWarning"> & {
    readonly rootless?: boolean | undefined;
  },
): { config: RuntimeConfig; warnings: BundleWarning[] } {
  const { args, env, cwd, user, tty, hostname } = options;
  const rootless = resolveRootless(options.rootless);
  const warnings: BundleWarning[] = [];
  const config = runtimeConfig(imageConfig, readAccounts(rootfs), {
    ...(args === undefined ? {} : { args }),
    ...(env === undefined ? {} : { env }),
    ...(cwd === undefined ? {} : { cwd }),
    ...(user === undefined ? {} : { user }),
    ...(tty === undefined ? {} : { tty }),
    ...(hostname === undefined ? {} : { hostname }),
    ...(rootless
      ? { rootless: { hostUid: process.geteuid?.() ?? 0, hostGid: process.getegid?.() ?? 0 } }
      : {}),
    onWarning: (warning) => warnings.push(warning),
  });
  return { config, warnings };
}

/**
 * Writes a runtime bundle that `runc run -b DIR` starts: the image unpacked
 * to DIR/rootfs and DIR/config.json from its config. Built in a private
 * staging directory and renamed into place: DIR appears complete or not at
 * all, and is 0700 so that other local users never reach its setuid files.
 */
export async function bundle(options: BundleOptions): Promise<BundleResult> {
  const { dir, args, env, cwd, user, tty, hostname, ...unpackOptions } = options;
  const target = checkDestination(dir);
  removeLeftoverStagings(target);
  const staging = createStaging(target);
  try {
    const rootfs = join(staging, "rootfs");
    const unpacked = await unpack({ ...unpackOptions, dest: rootfs });
    const { config, warnings } = configFor(unpacked.image.config, rootfs, options);
    writeFileSync(join(staging, "config.json"), `${JSON.stringify(config, null, "\t")}\n`, {
      mode: 0o644,
    });
    commitStaging(staging, target);
    return { dir, unpack: { ...unpacked, dest: join(dir, "rootfs") }, config, warnings };
  } catch (error) {
    discardStaging(staging);
    throw withErrorContext(error, { image: options.image });
  }
}

export interface StoreBundleOptions
  extends
    Omit<MountOptions, "target" | "writable">,
    Omit<RuntimeOverrides, "rootless" | "onWarning"> {
  /** The bundle directory to create (absent or empty). */
  readonly dir: string;
}

export interface StoreBundleResult {
  readonly dir: string;
  /**
   * DIR/rootfs: a writable overlay mount of the image's stored layers (strata umount DIR/rootfs
   * removes it and its changes).
   */
  readonly mount: MountResult;
  readonly config: RuntimeConfig;
  readonly warnings: readonly BundleWarning[];
}

/**
 * A runtime bundle whose rootfs is IMAGE mounted from the layer store, with
 * an upper directory of its own (as a container engine mounts one): nothing
 * of the image is copied. DIR appears with an empty rootfs, which is then
 * mounted; config.json is written last. On failure DIR is removed again.
 */
export async function bundleFromStore(options: StoreBundleOptions): Promise<StoreBundleResult> {
  const { dir, args, env, cwd, user, tty, hostname, ...mountOptions } = options;
  const target = checkDestination(dir);
  removeLeftoverStagings(target);
  const staging = createStaging(target);
  mkdirSync(join(staging, "rootfs"), { mode: 0o755 });
  commitStaging(staging, target);
  const rootfs = join(target, "rootfs");
  let mount: MountResult | undefined;
  try {
    mount = await mountImage({ ...mountOptions, target: rootfs, writable: true });
    const { config, warnings } = configFor(mount.unpacked.image.config, rootfs, options);
    const temporary = join(target, ".config.json.tmp");
    writeFileSync(temporary, `${JSON.stringify(config, null, "\t")}\n`, { mode: 0o644 });
    renameSync(temporary, join(target, "config.json"));
    return { dir, mount, config, warnings };
  } catch (error) {
    let mounted = mount !== undefined;
    if (mount !== undefined) {
      try {
        unmountImage({ target: rootfs, store: mount.store });
        mounted = false;
      } catch {
        // The mount stays (and DIR with it) for the user to see; the error below says why.
      }
    }
    // Never removed through a mount that is still there.
    if (!mounted) rmSync(target, { recursive: true, force: true });
    throw withErrorContext(error, { image: options.image });
  }
}
