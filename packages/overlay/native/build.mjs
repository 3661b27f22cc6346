// Builds strata_native (xattrs and mknod on Buffer paths) with the system C compiler.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildAddon } from "../../layer/native/build-addon.mjs";

buildAddon({ packageDir: join(dirname(fileURLToPath(import.meta.url)), ".."), name: "strata_native" });
