// `strata ls -R` of an image's merged tree (every layer read, headers only)
// against `tar -tzvf` of every layer blob in turn (what a user types to see
// what an image holds, without the merge), interleaved, order rotated.
//   node bench/ls.mjs [--rounds N] [--image oci:DIR:TAG]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { rounds: { type: "string" }, image: { type: "string" }, dest: { type: "string" } } });
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const bin = join(root, "packages", "strata", "bin", "strata.js");
const image = values.image ?? `oci:${join(root, "bench", "data", "debian")}:minbase`;
const [, layout, tag] = /^oci:(.*):([^:]+)$/.exec(image) ?? [];
const blob = (digest) => join(layout, "blobs", "sha256", digest.slice(7));
const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag) ?? index.manifests[0];
const manifest = JSON.parse(readFileSync(blob(entry.digest), "utf8"));
const layers = manifest.layers.map((l) => blob(l.digest));

function timed(command) {
  const started = process.hrtime.bigint();
  const run = spawnSync("/usr/bin/time", ["-f", "%M", "sh", "-c", command], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`${command}: ${run.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, rssMb: Number(run.stderr.trim().split("\n").at(-1)) / 1024 };
}
const TOOLS = {
  "strata ls -R": () => timed(`node '${bin}' ls -R '${image}' > /dev/null`),
  "tar -tzvf (every layer)": () => timed(layers.map((file) => `tar -tzvf '${file}' > /dev/null`).join(" && ")),
};
const times = Object.fromEntries(Object.keys(TOOLS).map((t) => [t, []]));
const rss = Object.fromEntries(Object.keys(TOOLS).map((t) => [t, 0]));
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? Object.keys(TOOLS) : Object.keys(TOOLS).reverse();
  for (const tool of order) {
    const r = TOOLS[tool]();
    times[tool].push(r.seconds);
    rss[tool] = Math.max(rss[tool], r.rssMb);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${image} (${layers.length} layers), ${rounds} rounds`);
console.log("| tool | median s (min-max) | peak RSS MB | strata/tar per round |");
console.log("| --- | --- | --- | --- |");
for (const tool of Object.keys(TOOLS)) {
  const t = times[tool];
  const ratios = tool === "strata ls -R" ? t.map((x, r) => (x / times["tar -tzvf (every layer)"][r]).toFixed(2)).join(", ") : "";
  console.log(`| ${tool} | ${median(t).toFixed(2)} (${Math.min(...t).toFixed(2)}-${Math.max(...t).toFixed(2)}) | ${rss[tool].toFixed(0)} | ${ratios} |`);
}
