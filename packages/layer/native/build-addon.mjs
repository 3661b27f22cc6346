// Compiles an N-API addon with the system C compiler. N-API addons need no
// linking against node, only its headers: from node-api-headers, or the
// headers of the installed Node. Used by this package's and overlay's build.mjs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

function includeDir(packageDir) {
  try {
    const pkg = createRequire(join(packageDir, "package.json")).resolve("node-api-headers/package.json");
    return join(dirname(pkg), "include");
  } catch {
    const system = join(dirname(dirname(process.execPath)), "include", "node");
    if (existsSync(join(system, "node_api.h"))) return system;
    throw new Error("no N-API headers: install node-api-headers or Node's headers");
  }
}

/**
 * Builds `native/NAME.c` of the package at `packageDir` into
 * `native/build/NAME.node`. With `requires` (a system header the addon needs)
 * missing, an optional addon is skipped with a message: its users fall back.
 */
export function buildAddon({ packageDir, name, libraries = [], requires, optional = false }) {
  const out = join(packageDir, "native", "build", `${name}.node`);
  if (requires !== undefined && !existsSync(requires)) {
    if (!optional) throw new Error(`${name} needs ${requires}`);
    rmSync(out, { force: true });
    console.log(`skipped ${name}: ${requires} is missing (optional)`);
    return;
  }
  mkdirSync(dirname(out), { recursive: true });
  const cc = process.env.CC ?? "cc";
  const source = join(packageDir, "native", `${name}.c`);
  execFileSync(cc, ["-O2", "-Wall", "-shared", "-fPIC", `-DNODE_GYP_MODULE_NAME=${name}`, `-I${includeDir(packageDir)}`, source, "-o", out, ...libraries], {
    stdio: "inherit",
  });
  console.log(`built ${out}`);
}
