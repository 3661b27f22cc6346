import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** Where a native addon came from: shipped in the package for this platform, or compiled on this machine. */
export type AddonOrigin = "prebuilt" | "built here";

export type AddonLoad<T> =
  | { readonly module: T; readonly origin: AddonOrigin; readonly file: string }
  | { readonly module: undefined; readonly reason: string };

const require = createRequire(import.meta.url);

/**
 * Loads strata's N-API addon `name` of the package whose root is
 * `packageRoot` (a file: URL ending in `/`): the one compiled here
 * (`native/build/NAME.node`, by `pnpm run build` or an install with a C
 * compiler) first, then the one shipped for this platform
 * (`prebuilds/PLATFORM-ARCH/NAME.node`; N-API is ABI-stable, so one binary
 * serves every Node version). Never throws: the reason is returned instead.
 */
export function loadAddon<T>(packageRoot: URL, name: string): AddonLoad<T> {
  const candidates: Array<[string, AddonOrigin]> = [
    [fileURLToPath(new URL(`native/build/${name}.node`, packageRoot)), "built here"],
    [fileURLToPath(new URL(`prebuilds/${process.platform}-${process.arch}/${name}.node`, packageRoot)), "prebuilt"],
  ];
  const failures: string[] = [];
  for (const [file, origin] of candidates) {
    if (!existsSync(file)) continue;
    try {
      return { module: require(file) as T, origin, file };
    } catch (error) {
      failures.push(`${file}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  const reason = failures.length > 0 ? failures.join("; ") : `no ${name}.node built here and none shipped for ${process.platform}-${process.arch}`;
  return { module: undefined, reason };
}

/** The layer package's root, for its own addons (native/strata_gzip.c). */
export const LAYER_PACKAGE_ROOT = new URL("../", import.meta.url);
