"use strict";
// Compiles dist/cli.cjs, the bundled command, with dist/cli.cache, V8's code
// cache for it, where this Node accepts the cache (build-cli.mjs says why
// both). bin/strata.cjs runs the command through it, and build-cli.mjs makes
// the cache through it: V8 takes a cache only for the same compiled source.
const { existsSync, readFileSync } = require("node:fs");
const { createRequire, Module } = require("node:module");
const { join } = require("node:path");
const { constants, Script } = require("node:vm");

const dist = join(__dirname, "..", "dist");
const cli = join(dist, "cli.cjs");
const cache = join(dist, "cli.cache");

/** The bundle's `main`, and the compiled script (whose createCachedData() makes the cache). */
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
  const script = new Script(Module.wrap(readFileSync(cli, "utf8")), {
    filename: cli,
    ...(existsSync(cache) ? { cachedData: readFileSync(cache) } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const bundle = { exports: {} };
  script.runInThisContext()(bundle.exports, createRequire(cli), bundle, cli, dist);
  return { main: bundle.exports.main, script, cache };
}

module.exports = { loadCli };
