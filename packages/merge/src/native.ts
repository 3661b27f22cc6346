import { loadAddon, packageRoot, type AddonLoad } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";

/** The syscalls Node's fs lacks, from strata's own N-API addon (native/strata_native.c). */
export interface NativeCalls {
  /** Sets an xattr on the path itself, never through a symlink. */
  lsetxattr(path: Buffer, name: string, value: Buffer): void;
  lremovexattr(path: Buffer, name: string): void;
  llistxattr(path: Buffer): string[];
  lgetxattr(path: Buffer, name: string): Buffer;
  /** `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO). */
  mknod(path: Buffer, mode: number, major: number, minor: number): void;
  /**
   * The xattrs of the inode open as `fd` (a diff reads what it opened, never a name looked up
   * again).
   */
  flistxattr(fd: number): string[];
  fgetxattr(fd: number, name: string): Buffer;
  /**
   * flock without blocking (`operation`: 1 shared, 2 exclusive, 8 unlock): false when another
   * holder has it.
   */
  flock(fd: number, operation: number): boolean;
}

let loaded: AddonLoad<NativeCalls> | undefined;

/**
 * strata_native, loaded once (built here, else prebuilt): where it came from, or why it is
 * unavailable.
 */
export function nativeAddon(): AddonLoad<NativeCalls> {
  loaded ??= loadAddon<NativeCalls>(
    packageRoot("@strata-oci/merge", import.meta.url, new URL("../", import.meta.url)),
    "strata_native",
  );
  return loaded;
}

/**
 * The addon's calls, or undefined where it is unavailable (no prebuilt
 * binary for this platform and none built here): unpacking then goes on
 * without xattrs, devices and fifos, with the warnings a rootless unpack
 * gives for what it cannot write.
 */
export function nativeCalls(): NativeCalls | undefined {
  return nativeAddon().module;
}

/** The addon's calls, or a typed error where they are needed and unavailable. */
export function native(): NativeCalls {
  const load = nativeAddon();
  if ("reason" in load) {
    throw new TargetError(
      "STRATA_NATIVE_UNAVAILABLE",
      `strata's native addon (xattrs, mknod) is unavailable: ${load.reason}`,
      {
        hint:
          "install on linux-x64 or linux-arm64 (binaries are shipped), or with a C " +
          "compiler (cc) so that it is built at install",
      },
    );
  }
  return load.module;
}
