#!/usr/bin/env node
// Commands that read layers start their worker threads first, so that the
// threads boot while the rest of strata loads.
if (["unpack", "bundle"].includes(process.argv[2] ?? "")) void (await import("@strata-oci/layer")).prepareBlobWorkers();
const { main } = await import("../dist/main.js");

process.exitCode = await main(process.argv.slice(2));
