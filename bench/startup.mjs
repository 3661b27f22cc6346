// Start-up time of the strata command (#23 target: --help and every
// subcommand's help under 0.15 s): the median of 20 wall-clock runs of each,
// interleaved, beside `node -e 0` in the same environment and `node -e 0`
// without NODE_EXTRA_CA_CERTS (which bin/strata sets aside, as it says why).
//   node bench/startup.mjs [--runs N] [--strata PATH]
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "20" }, strata: { type: "string" } },
});
const runs = Number(values.runs);
const strata =
  values.strata ?? join(import.meta.dirname, "..", "packages", "strata", "bin", "strata");
const { COMMANDS } = await import("../packages/strata/dist/commands/index.js");
const { NODE_EXTRA_CA_CERTS: _ca, ...withoutCa } = process.env;

const cases = [
  ["node -e 0", process.execPath, ["-e", "0"], process.env],
  ["node -e 0 (no NODE_EXTRA_CA_CERTS)", process.execPath, ["-e", "0"], withoutCa],
  ["strata --help", strata, ["--help"], process.env],
  ...COMMANDS.map((c) => [`strata ${c.name} --help`, strata, [c.name, "--help"], process.env]),
];
const times = new Map(cases.map(([name]) => [name, []]));
for (let round = 0; round < runs; round++)
  for (const [name, command, args, env] of cases) {
    const started = process.hrtime.bigint();
    const run = spawnSync(command, args, { env, stdio: "ignore" });
    if (run.status !== 0) throw new Error(`${name} exited ${run.status}`);
    times.get(name).push(Number(process.hrtime.bigint() - started) / 1e6);
  }
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
};
console.log(`| command | median ms (${runs} runs) | min-max |`);
console.log("| --- | --- | --- |");
for (const [name, xs] of times)
  console.log(
    `| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)} |`,
  );
