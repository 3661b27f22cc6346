// `strata ls -R` of an image's merged tree (every layer read, headers only)
// against `tar -tzvf` of every layer blob in turn (what a user types to see
// what an image holds, without the merge), interleaved, order rotated.
//   node bench/ls.mjs [--rounds N] [--image oci:DIR:TAG]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { printTable, runRounds, timedShell } from "./rounds.mjs";

const { values } = parseArgs({
  options: { rounds: { type: "string" }, image: { type: "string" }, dest: { type: "string" } },
});
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const bin = join(root, "packages", "strata", "bin", "strata.js");
const image = values.image ?? `oci:${join(root, "bench", "data", "debian")}:minbase`;
const [, layout, tag] = /^oci:(.*):([^:]+)$/.exec(image) ?? [];
const blob = (digest) => join(layout, "blobs", "sha256", digest.slice(7));
const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
const entry =
  index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag) ??
  index.manifests[0];
const manifest = JSON.parse(readFileSync(blob(entry.digest), "utf8"));
const layers = manifest.layers.map((l) => blob(l.digest));

const TOOLS = {
  "strata ls -R": () => timedShell(`node '${bin}' ls -R '${image}' > /dev/null`),
  "tar -tzvf (every layer)": () =>
    timedShell(layers.map((file) => `tar -tzvf '${file}' > /dev/null`).join(" && ")),
};
const work = mkdtempSync(join(tmpdir(), "ls-bench-"));
printTable(`${image} (${layers.length} layers), ${rounds} rounds`, runRounds(TOOLS, rounds, work), {
  "strata ls -R": "tar -tzvf (every layer)",
});
rmSync(work, { recursive: true, force: true });
