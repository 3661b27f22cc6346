// Builds the prebuilt N-API binaries shipped in the packages (run by prepack):
// strata_gzip (this package) and strata_native (overlay), for linux-x64 and
// linux-arm64 (glibc), with Debian's gcc and gcc-aarch64-linux-gnu. N-API is
// ABI-stable, so one binary per platform serves every Node version. Each
// binary may need only libc: strata_gzip dlopens libisal.so.2 itself.
//   node packages/layer/native/prebuild.mjs [layer|overlay]   (default: both)
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildAddon } from "./build-addon.mjs";

const packages = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TARGETS = [
  {
    dir: "linux-x64",
    cc: process.arch === "x64" ? "cc" : "x86_64-linux-gnu-gcc",
    machine: "Advanced Micro Devices X86-64",
  },
  {
    dir: "linux-arm64",
    cc: process.arch === "arm64" ? "cc" : "aarch64-linux-gnu-gcc",
    machine: "AArch64",
  },
];
const ADDONS = [
  { packageDir: join(packages, "layer"), name: "strata_gzip", libraries: ["-ldl"] },
  { packageDir: join(packages, "merge"), name: "strata_native", libraries: [] },
];
/** What a plain Debian or Ubuntu machine has: a binary that needs more would fail to load there. */
const ALLOWED_NEEDED = new Set(["libc.so.6", "libdl.so.2"]);
/** The oldest glibc the binaries load on (CentOS 7, Ubuntu 14.04 have 2.17 and 2.19). */
const MAX_GLIBC = [2, 17];

const only = process.argv[2];
for (const target of TARGETS) {
  for (const addon of ADDONS.filter((a) => only === undefined || a.packageDir.endsWith(only))) {
    const out = join(addon.packageDir, "prebuilds", target.dir, `${addon.name}.node`);
    buildAddon({ ...addon, cc: target.cc, out, required: true });
    const header = execFileSync("readelf", ["-h", "-d", out], { encoding: "utf8" });
    if (!header.includes(`Machine:                           ${target.machine}`))
      throw new Error(`${out} is not built for ${target.machine}`);
    for (const [, library] of header.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) {
      if (!ALLOWED_NEEDED.has(library))
        throw new Error(`${out} needs ${library}, which a plain Debian or Ubuntu machine may lack`);
    }
    const symbols = execFileSync("objdump", ["-T", out], { encoding: "utf8" });
    for (const [version, major, minor] of symbols.matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
      if (
        Number(major) > MAX_GLIBC[0] ||
        (Number(major) === MAX_GLIBC[0] && Number(minor) > MAX_GLIBC[1])
      ) {
        throw new Error(
          `${out} needs ${version}; the prebuilt binaries must load ` +
            `on glibc ${MAX_GLIBC.join(".")}`,
        );
      }
    }
  }
}
