// Bundles the strata command (dist/main.js and the @strata-oci packages it
// imports) into one CommonJS file, dist/cli.cjs, which bin/load-cli.cjs
// loads. Node spends most of a short command's start loading and compiling
// code: measured on the layer store's second image (bench/store.mjs), loading
// ~250 modules took 120-150 ms, the bundle 35-50 ms. The library
// (dist/index.js) stays as modules. The bundle finds the workers and native
// addons in the packages it came from (packageRoot in @strata-oci/layer), so
// those stay installed beside it.
//   node packages/strata/build-cli.mjs   (after tsc -b; `pnpm run build` runs both)
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
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
