"use strict";
// Loads dist/cli.cjs, the bundled command (build-cli.mjs says why a bundle).
// bin/strata.cjs runs the command through it. No V8 code cache is shipped:
// a cache made on the build machine kept the build machine's path in every
// stack trace (V8 takes a function's script name from the cache), for 7-9 ms
// a command. Node 22's NODE_COMPILE_CACHE, where a user sets it, still applies.
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const cli = join(__dirname, "..", "dist", "cli.cjs");

/** The bundle's `main`. */
function loadCli() {
  if (!existsSync(cli)) {
    // As the command reports a StrataError; it cannot load that class without the bundle.
    process.stderr.write(
      `strata: the bundled command ${cli} is missing\n  hint: in the repository run \`pnpm ` +
        `run build\` (it bundles the command); otherwise reinstall @strata-oci/strata\n  ` +
        `code: STRATA_INSTALL_INCOMPLETE\n`,
    );
    process.exit(1);
  }
  return { main: require(cli).main };
}

module.exports = { loadCli };
