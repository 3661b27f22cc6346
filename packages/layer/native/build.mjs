// Builds strata_gzip (gzip through ISA-L) where ISA-L's headers are installed
// (Debian's libisal-dev). The addon loads libisal.so.2 itself when it loads;
// without it, gzip layers are inflated with Node's zlib.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildAddon } from "./build-addon.mjs";

buildAddon({
  packageDir: join(dirname(fileURLToPath(import.meta.url)), ".."),
  name: "strata_gzip",
  libraries: ["-ldl"],
  requires: "/usr/include/isa-l/igzip_lib.h",
  optional: true,
});
