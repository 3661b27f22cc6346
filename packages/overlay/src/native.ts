import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { TargetError } from "@strata/layer";

/** The syscalls Node's fs lacks, from strata's own N-API addon (native/strata_native.c). */
export interface NativeCalls {
  /** Sets an xattr on the path itself, never through a symlink. */
  lsetxattr(path: Buffer, name: string, value: Buffer): void;
  lremovexattr(path: Buffer, name: string): void;
  llistxattr(path: Buffer): string[];
  lgetxattr(path: Buffer, name: string): Buffer;
  /** `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO). */
  mknod(path: Buffer, mode: number, major: number, minor: number): void;
}

let loaded: NativeCalls | undefined;

/** Loads the addon once; a clear error when it was not built. */
export function native(): NativeCalls {
  if (loaded === undefined) {
    const file = fileURLToPath(new URL("../native/build/strata_native.node", import.meta.url));
    try {
      loaded = createRequire(import.meta.url)(file) as NativeCalls;
    } catch (cause) {
      throw new TargetError("STRATA_NATIVE_UNAVAILABLE", `cannot load strata's native addon ${file}`, {
        cause,
        hint: "run `pnpm run build` (needs a C compiler) to build it",
      });
    }
  }
  return loaded;
}
