// Run by each package's prepack (pnpm pack / publish), in the package's
// directory: builds its TypeScript (and that of the packages it references),
// copies the repository's LICENSE in, and for the packages with native code
// builds the prebuilt binaries for linux-x64 and linux-arm64.
//   cd packages/NAME && node ../prepack.mjs
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packages = dirname(fileURLToPath(import.meta.url));
const here = process.cwd();
const tsc = join(packages, "..", "node_modules", "typescript", "bin", "tsc");
execFileSync(process.execPath, [tsc, "-b", here], { stdio: "inherit" });
copyFileSync(join(packages, "..", "LICENSE"), join(here, "LICENSE"));
if (existsSync(join(here, "native"))) {
  execFileSync(
    process.execPath,
    [join(packages, "layer", "native", "prebuild.mjs"), basename(here)],
    { stdio: "inherit" },
  );
}
// The strata command runs from one bundled file (packages/strata/build-cli.mjs says why).
if (existsSync(join(here, "build-cli.mjs")))
  execFileSync(process.execPath, [join(here, "build-cli.mjs")], { stdio: "inherit" });
