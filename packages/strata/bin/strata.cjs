#!/usr/bin/env node
"use strict";
// The strata command's entry (bin/strata runs it; a CommonJS file, which Node
// starts ~10 ms sooner than a module). The command is one bundled CommonJS
// file, compiled here with the V8 code cache made for it at build time where
// this Node accepts it (build-cli.mjs says why both).
const { existsSync, readFileSync } = require("node:fs");
const { createRequire, Module } = require("node:module");
const { join } = require("node:path");
const { constants, Script } = require("node:vm");

// Moved aside by bin/strata (it says why): back for child processes and the registry client.
if (process.env.STRATA_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.STRATA_EXTRA_CA_CERTS;
  delete process.env.STRATA_EXTRA_CA_CERTS;
}

const dist = join(__dirname, "..", "dist");
const cli = join(dist, "cli.cjs");
const cache = join(dist, "cli.cache");
const script = new Script(Module.wrap(readFileSync(cli, "utf8")), {
  filename: cli,
  ...(existsSync(cache) ? { cachedData: readFileSync(cache) } : {}),
  importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const bundle = { exports: {} };
script.runInThisContext()(bundle.exports, createRequire(cli), bundle, cli, dist);
bundle.exports.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
