// Bundles the strata command (dist/main.js and the @strata-oci packages it
// imports) into one CommonJS file, dist/cli.cjs, and makes V8's code cache
// for it, dist/cli.cache, which bin/load-cli.cjs compiles it with. Node spends
// most of a short command's start loading and compiling code: measured on
// the layer store's second image (bench/store.mjs), loading ~250 modules took
// 120-150 ms, the bundle 35-50 ms, and the code cache saves another 25-35 ms
// of compiling. The library (dist/index.js) stays as modules. The bundle finds
// the workers and native addons in the packages it came from (packageRoot in
// @strata-oci/layer), so those stay installed beside it.
//
// The cache holds what a training run compiled (the commands below, on the
// repository's sample image, in a temporary directory; one that fails here is
// left out): V8 takes it only from
// the same V8 version and flags, and compiles from source otherwise.
//   node packages/strata/build-cli.mjs   (after tsc -b; `pnpm run build` runs both)
import { build } from "esbuild";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { loadCli } = createRequire(import.meta.url)("./bin/load-cli.cjs");
await build({
  entryPoints: [join(here, "dist", "main.js")],
  outfile: join(here, "dist", "cli.cjs"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // Native and optional: loaded from the layer package's own dependencies.
  external: ["zstd-napi"],
  // Each package's import.meta.url only finds its package by name (packageRoot): the bundle's own
  // URL serves.
  define: { "import.meta.url": "__strata_bundle_url" },
  banner: { js: 'const __strata_bundle_url = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
  legalComments: "none",
});
rmSync(join(here, "dist", "cli.cache"), { force: true });

const sample = join(here, "..", "..", "fixtures", "sample", "oci");
if (existsSync(sample)) {
  const { main, script, cache } = loadCli();
  const work = mkdtempSync(join(tmpdir(), "strata-code-cache-"));
  try {
    const image = `oci:${sample}:sample`;
    for (const args of [
      ["unpack", "--quiet", "--store", join(work, "store"), image],
      ["unpack", "--quiet", image, join(work, "rootfs")],
      ["ls", "-R", image],
      ["inspect", image],
    ]) {
      // Silent, and best effort: a command that cannot run here (the store without the native
      // addon, on a machine with no compiler) only leaves its code out of the cache.
      const [out, err] = [process.stdout.write, process.stderr.write];
      process.stdout.write = process.stderr.write = () => true;
      try {
        await main(args);
      } finally {
        [process.stdout.write, process.stderr.write] = [out, err];
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(cache, script.createCachedData());
}
