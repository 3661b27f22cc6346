// Compiles an N-API addon with the system C compiler. N-API addons need no
// linking against node, only its headers: from node-api-headers, or the
// headers of the installed Node. Used by this package's and overlay's build.mjs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

function includeDir(packageDir) {
  try {
    const pkg = createRequire(join(packageDir, "package.json")).resolve(
      "node-api-headers/package.json",
    );
    return join(dirname(pkg), "include");
  } catch {
    const system = join(dirname(dirname(process.execPath)), "include", "node");
    if (existsSync(join(system, "node_api.h"))) return system;
    throw new Error("no N-API headers: install node-api-headers or Node's headers");
  }
}

/**
 * Builds `native/NAME.c` of the package at `packageDir` into `out` (default
 * `native/build/NAME.node`) with `cc` (default $CC or cc). With `requires` (a
 * system header the addon needs) missing, an optional addon is skipped with a
 * message: its users fall back. A compiler that is missing or fails is a
 * message too (false is returned), unless `required` (prebuilt binaries).
 */
export function buildAddon({
  packageDir,
  name,
  libraries = [],
  requires,
  optional = false,
  required = false,
  cc = process.env.CC ?? "cc",
  out = join(packageDir, "native", "build", `${name}.node`),
}) {
  if (requires !== undefined && !existsSync(requires)) {
    if (!optional) throw new Error(`${name} needs ${requires}`);
    rmSync(out, { force: true });
    console.log(`skipped ${name}: ${requires} is missing (optional)`);
    return false;
  }
  mkdirSync(dirname(out), { recursive: true });
  const source = join(packageDir, "native", `${name}.c`);
  try {
    execFileSync(
      cc,
      [
        "-O2",
        "-Wall",
        "-shared",
        "-fPIC",
        `-DNODE_GYP_MODULE_NAME=${name}`,
        `-I${includeDir(packageDir)}`,
        source,
        "-o",
        out,
        ...libraries,
      ],
      {
        stdio: "inherit",
      },
    );
  } catch (error) {
    rmSync(out, { force: true });
    if (required) throw error;
    // No compiler is not a failure: strata loads a prebuilt binary, or goes without (zlib; no
    // xattrs).
    console.log(
      `not built ${name} (${cc}: ${error.code ?? `exit ${error.status}`}); strata uses the ` +
        `prebuilt binary or works without it (see strata --version)`,
    );
    return false;
  }
  console.log(`built ${out}`);
  return true;
}

/**
 * True when a binary of `name` is shipped in the package for this platform (then an install builds
 * nothing).
 */
export function hasPrebuilt(packageDir, name) {
  return existsSync(
    join(packageDir, "prebuilds", `${process.platform}-${process.arch}`, `${name}.node`),
  );
}
