// Builds strata_gzip (gzip through ISA-L, Debian's libisal-dev) when ISA-L is
// installed; without it, gzip layers are inflated with Node's zlib.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildAddon } from "./build-addon.mjs";

buildAddon({
  packageDir: join(dirname(fileURLToPath(import.meta.url)), ".."),
  name: "strata_gzip",
  libraries: ["-lisal"],
  requires: "/usr/include/isa-l/igzip_lib.h",
  optional: true,
});
