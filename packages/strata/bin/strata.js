#!/usr/bin/env node
// The same command as bin/strata, for `node .../bin/strata.js`.
import "./strata.cjs";
