// A/B of two strata checkouts (each built), interleaved with the order
// rotated every round, each run into a fresh directory under --dest (use
// bench/fresh-ext4.sh ab.mjs ...): the same command, the checkouts' own CLIs.
// Medians, min-max, per-round ratios B/A, peak RSS.
//   node bench/ab.mjs --a DIR --b DIR [--rounds N] [--dest DIR] -- COMMAND ARGS...
// In ARGS, {dest} is replaced by the run's fresh directory.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { printTable, runRounds, timed } from "./rounds.mjs";

const { values, positionals } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    rounds: { type: "string" },
    dest: { type: "string" },
  },
  allowPositionals: true,
});
if (values.a === undefined || values.b === undefined || positionals.length === 0)
  throw new Error("usage: node bench/ab.mjs --a DIR --b DIR [--rounds N] -- COMMAND ARGS...");
const work = values.dest ?? join(resolve(import.meta.dirname, ".."), "bench", "out");
mkdirSync(work, { recursive: true });
const cli = (checkout) => join(resolve(checkout), "packages", "strata", "bin", "strata");
const run = (checkout) => (dir) =>
  timed(
    cli(checkout),
    positionals.map((arg) => arg.replaceAll("{dest}", join(dir, "out"))),
  );
const results = runRounds(
  { [`A ${values.a}`]: run(values.a), [`B ${values.b}`]: run(values.b) },
  Number(values.rounds ?? 7),
  work,
);
printTable(`strata ${positionals.join(" ")}`, results, { [`B ${values.b}`]: `A ${values.a}` });
