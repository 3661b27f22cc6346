#!/usr/bin/env node
// dist/cli.js is the command bundled into one file (build-cli.mjs says why).
const { main } = await import("../dist/cli.js");

process.exitCode = await main(process.argv.slice(2));
