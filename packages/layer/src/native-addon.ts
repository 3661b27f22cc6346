import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Where a native addon came from: shipped in the package for this platform, or compiled on this
 * machine.
 */
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
    [
      fileURLToPath(
        new URL(`prebuilds/${process.platform}-${process.arch}/${name}.node`, packageRoot),
      ),
      "prebuilt",
    ],
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
  const reason =
    failures.length > 0
      ? failures.join("; ")
      : `no ${name}.node built here and none shipped for ${process.platform}-${process.arch}`;
  return { module: undefined, reason };
}

/**
 * The root (a file: URL ending in `/`) of the installed package `name`, as
 * Node resolves it from `from`: a package's own modules find themselves (a
 * self-reference), and so does a bundle that inlined them (strata's CLI is
 * one), whose `import.meta.url` is the bundle's, not the package's. Where it
 * does not resolve (a bundle copied away from its node_modules), `fallback`:
 * the files then are missing and say so as typed errors.
 */
export function packageRoot(name: string, from: string, fallback: URL): URL {
  try {
    return new URL(".", pathToFileURL(createRequire(from).resolve(`${name}/package.json`)));
  } catch {
    return fallback;
  }
}

let layerRoot: URL | undefined;

/**
 * The layer package's root, for its own worker and addons (native/strata_gzip.c); found when first
 * needed.
 */
export function layerPackageRoot(): URL {
  layerRoot ??= packageRoot("@strata-oci/layer", import.meta.url, new URL("../", import.meta.url));
  return layerRoot;
}

/**
 * require() as the layer package's own modules do (its optional zstd-napi), wherever this code was
 * bundled.
 */
export function requireFromLayer(name: string): unknown {
  return createRequire(new URL("package.json", layerPackageRoot()))(name);
}
