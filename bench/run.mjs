// Times strata, GNU tar (-xzf of each layer in order) and umoci unpack on
// the same images, interleaved, each into a fresh directory on the same
// filesystem; several rounds; medians, per-round ratios and peak RSS.
// node bench/run.mjs [--rounds N] [--entries N] [--image oci:DIR:TAG ...] [--dest DIR]
// [--remove-each]
// Without --image it generates a seeded image of --entries entries (default
// 100,000) under bench/data. Results go to bench/out/results.{md,json}.
// --dest puts the trees elsewhere (a tmpfs leaves disk noise out);
// --remove-each removes each tree right after its run (for tmpfs, where
// keeping every tree would fill memory; on ext4 it slows the next run).
// --keep-trees leaves the trees for the caller (bench/fresh-ext4.sh
// discards the whole filesystem instead).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    entries: { type: "string", multiple: true },
    image: { type: "string", multiple: true },
    dest: { type: "string" },
    "remove-each": { type: "boolean" },
    "keep-trees": { type: "boolean" },
  },
});
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const data = join(root, "bench", "data");
const out = join(root, "bench", "out");
mkdirSync(out, { recursive: true });
const trees = resolve(values.dest ?? out);
mkdirSync(trees, { recursive: true });

function has(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

const images = [];
for (const ref of values.image ?? []) images.push({ name: ref, ref });
if (images.length === 0) {
  for (const entries of values.entries ?? ["100000"]) {
    const dir = join(data, `img-${entries}`);
    if (!existsSync(join(dir, "index.json")))
      execFileSync(
        process.execPath,
        [join(root, "bench", "generate.mjs"), dir, "--entries", entries],
        { stdio: "inherit" },
      );
    images.push({ name: `generated ${entries} entries`, ref: `oci:${dir}:bench` });
  }
}

function layersOf(ref) {
  const [, dir, tag] = /^oci:([^:]+):?(.*)$/.exec(ref) ?? [];
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const top =
    index.manifests.find(
      (m) => (m.annotations ?? {})["org.opencontainers.image.ref.name"] === tag,
    ) ?? index.manifests[0];
  const manifest = JSON.parse(
    readFileSync(join(dir, "blobs", "sha256", top.digest.slice(7)), "utf8"),
  );
  const blobs = manifest.layers.map((l) => join(dir, "blobs", "sha256", l.digest.slice(7)));
  return { dir, tag, blobs, bytes: manifest.layers.reduce((s, l) => s + l.size, 0) };
}

/** Runs a command under GNU time; returns wall seconds and peak RSS in MB. */
function timed(cmd, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr.slice(-2000)}`);
  const rss = Number(result.stderr.trim().split("\n").pop()) / 1024;
  return { seconds, rss };
}

const tools = {
  strata: (img, dest) =>
    timed(process.execPath, [
      join(root, "packages/strata/bin/strata.js"),
      "unpack",
      "--quiet",
      img.ref,
      dest,
    ]),
  "tar -xzf": (img, dest) => {
    // One shell so that the layers run back to back, as a script would.
    mkdirSync(dest);
    const script = img.layers.blobs.map((b) => `tar -xzf '${b}' -C '${dest}'`).join(" && ");
    return timed("sh", ["-c", script]);
  },
  ...(has("umoci")
    ? {
        umoci: (img, dest) =>
          timed("umoci", ["unpack", "--image", `${img.layers.dir}:${img.layers.tag}`, dest]),
      }
    : {}),
};

// All data exists and is on disk before the first timed run.
execFileSync("sync");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
const written = [];
for (const img of images) {
  img.layers = layersOf(img.ref);
  const times = Object.fromEntries(Object.keys(tools).map((t) => [t, []]));
  const rss = Object.fromEntries(Object.keys(tools).map((t) => [t, []]));
  const order = Object.entries(tools);
  for (let round = 0; round < rounds; round++) {
    // Rotate who goes first: the first run of a round inherits the writeback of the last one.
    const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
    for (const [name, run] of rotated) {
      const dest = join(trees, `work-${Date.now()}-${round}-${name.replace(/\W/g, "")}`);
      execFileSync("sync");
      const r = run(img, dest);
      times[name].push(r.seconds);
      rss[name].push(r.rss);
      console.log(
        `${img.name} round ${round + 1} ${name}: ${r.seconds.toFixed(2)} s, ${r.rss.toFixed(0)} MB`,
      );
      if (values["remove-each"] === true) rmSync(dest, { recursive: true, force: true });
      else written.push(dest);
    }
  }
  // Trees are removed only after the last image: on ext4 every tool was
  // measured 3-5x slower in the run right after an rm -rf of a large tree.
  const perRound = (a, b) => times[a].map((t, i) => t / times[b][i]);
  results.push({
    image: img.name,
    compressedBytes: img.layers.bytes,
    medians: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])),
    spreads: Object.fromEntries(
      Object.entries(times).map(([k, v]) => [k, [Math.min(...v), Math.max(...v)]]),
    ),
    peakRssMb: Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, Math.max(...v)])),
    ratios: {
      "strata/tar": perRound("strata", "tar -xzf"),
      ...(times.umoci ? { "strata/umoci": perRound("strata", "umoci") } : {}),
    },
  });
}

// --keep-trees: the caller throws the whole filesystem away (fresh-ext4.sh).
if (values["keep-trees"] !== true)
  for (const dest of written.splice(0)) rmSync(dest, { recursive: true, force: true });

const filesystem = spawnSync("stat", ["-f", "-c", "%T", trees], { encoding: "utf8" }).stdout.trim();
const gzip = existsSync(join(root, "packages", "layer", "native", "build", "strata_gzip.node"))
  ? "ISA-L"
  : "zlib (libisal-dev not installed at build time)";
const lines = [
  `Trees written to ${trees} (${filesystem}), ${rounds} rounds; strata's gzip decoder: ${gzip}.`,
  "",
  "| image | tool | median s | min-max s | peak RSS MB |",
  "| --- | --- | --- | --- | --- |",
];
for (const r of results) {
  for (const tool of Object.keys(r.medians)) {
    lines.push(
      `| ${r.image} (${(r.compressedBytes / 1e6).toFixed(0)} MB gz) | ${tool} | ` +
        `${r.medians[tool].toFixed(2)} | ` +
        `${r.spreads[tool].map((x) => x.toFixed(2)).join("-")} | ${r.peakRssMb[tool].toFixed(0)} |`,
    );
  }
  for (const [k, v] of Object.entries(r.ratios))
    lines.push(`| ${r.image} | ${k} per round | ${v.map((x) => x.toFixed(2)).join(", ")} | | |`);
}
writeFileSync(join(out, "results.md"), `${lines.join("\n")}\n`);
writeFileSync(
  join(out, "results.json"),
  JSON.stringify({ filesystem, rounds, gzip, results }, null, 2),
);
console.log(lines.join("\n"));
execFileSync(
  process.execPath,
  [join(root, "bench", "chart.mjs"), join(out, "results.json"), join(out, "results.svg")],
  { stdio: "inherit" },
);
