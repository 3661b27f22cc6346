// Builds strata_gzip (gzip through ISA-L) where ISA-L's headers are installed
// (Debian's libisal-dev). The addon loads libisal.so.2 itself when it loads;
// without it, gzip layers are inflated with Node's zlib. Never fails: without
// a compiler strata uses the prebuilt binary, or zlib.
//   node native/build.mjs [--if-no-prebuilt]   (the package's install script passes it)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildAddon, hasPrebuilt } from "./build-addon.mjs";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!(process.argv.includes("--if-no-prebuilt") && hasPrebuilt(packageDir, "strata_gzip"))) {
  buildAddon({
    packageDir,
    name: "strata_gzip",
    libraries: ["-ldl"],
    requires: "/usr/include/isa-l/igzip_lib.h",
    optional: true,
  });
}
