// Bundles the strata command (dist/main.js and the @strata-oci packages it
// imports) into one file, dist/cli.js, which bin/strata.js runs. Node spends
// most of a short command's start loading modules one by one (about 250
// files: resolution, a read and a compile each): measured on the layer store's
// second image, loading took 120-150 ms as modules and 35-50 ms as one bundle.
// The library (dist/index.js) stays as modules. The bundle finds the workers
// and native addons in the packages it came from (packageRoot in
// @strata-oci/layer), so those stay installed beside it.
//   node packages/strata/build-cli.mjs   (after tsc -b; `pnpm run build` runs both)
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: [join(here, "dist", "main.js")],
  outfile: join(here, "dist", "cli.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Native and optional: loaded from the layer package's own dependencies.
  external: ["zstd-napi"],
  logLevel: "warning",
  legalComments: "none",
});
