// Builds strata_native (xattrs and mknod on Buffer paths) with the system C
// compiler. Never fails: without a compiler strata uses the prebuilt binary,
// or skips xattrs, devices and fifos with warnings.
//   node native/build.mjs [--if-no-prebuilt]   (the package's install script passes it)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildAddon, hasPrebuilt } from "@strata-oci/layer/native/build-addon.mjs";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!(process.argv.includes("--if-no-prebuilt") && hasPrebuilt(packageDir, "strata_native"))) {
  buildAddon({ packageDir, name: "strata_native" });
}
