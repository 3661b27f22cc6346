#!/usr/bin/env node
"use strict";
// The strata command's entry (bin/strata runs it; a CommonJS file, which Node
// starts ~10 ms sooner than a module).

// Moved aside by bin/strata (it says why): back for child processes and the registry client.
if (process.env.STRATA_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.STRATA_EXTRA_CA_CERTS;
  delete process.env.STRATA_EXTRA_CA_CERTS;
}

require("./load-cli.cjs")
  .loadCli()
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
