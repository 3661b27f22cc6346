// Compiles the N-API addon with the system C compiler. N-API addons need no
// linking against node, only its headers: from node-api-headers, or the
// headers of the installed Node.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "build", "strata_native.node");
const source = join(here, "strata_native.c");

function includeDir() {
  try {
    const pkg = createRequire(join(here, "..", "package.json")).resolve("node-api-headers/package.json");
    return join(dirname(pkg), "include");
  } catch {
    const system = join(dirname(dirname(process.execPath)), "include", "node");
    if (existsSync(join(system, "node_api.h"))) return system;
    throw new Error("no N-API headers: install node-api-headers or Node's headers");
  }
}

mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC ?? "cc";
execFileSync(cc, ["-O2", "-Wall", "-shared", "-fPIC", "-DNODE_GYP_MODULE_NAME=strata_native", `-I${includeDir()}`, source, "-o", out], {
  stdio: "inherit",
});
console.log(`built ${out}`);
