// Times strata, GNU tar (-xzf, -I igzip and -I pigz of each layer in order)
// and umoci unpack on the same images, interleaved, each into a fresh
// directory on the same filesystem; several rounds; medians, per-round ratios
// and peak RSS. Beside them the machine's floor: igzip inflating the layers
// to /dev/null, and tar -xf of the layers inflated beforehand. Each run
// records the kernel's dirty and writeback bytes as it starts and the tool
// that ran before it (the slowdown after other writers, issue #24).
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
import { installMissing } from "./rounds.mjs";
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

installMissing([
  ["igzip", "isal"],
  ["pigz", "pigz"],
]);

/** One shell running `each(blob)` for the layers back to back, as a script would. */
const perLayer = (img, each) => timed("sh", ["-c", img.layers.blobs.map(each).join(" && ")]);

/** The layers inflated once, untimed, for the floor's tar -xf (beside the trees). */
function inflated(img) {
  img.inflated ??= img.layers.blobs.map((blob, index) => {
    const tar = join(trees, `inflated-${Date.now()}-${index}.tar`);
    execFileSync("sh", ["-c", `igzip -dc '${blob}' > '${tar}'`]);
    return tar;
  });
  return img.inflated;
}

/** Dirty and writeback bytes the kernel holds now (MB). */
function dirtyMb() {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  return (kb("Dirty") + kb("Writeback")) / 1024;
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
    mkdirSync(dest);
    return perLayer(img, (b) => `tar -xzf '${b}' -C '${dest}'`);
  },
  "tar -I igzip": (img, dest) => {
    mkdirSync(dest);
    return perLayer(img, (b) => `tar -I igzip -xf '${b}' -C '${dest}'`);
  },
  "tar -I pigz": (img, dest) => {
    mkdirSync(dest);
    return perLayer(img, (b) => `tar -I pigz -xf '${b}' -C '${dest}'`);
  },
  "floor: igzip -dc": (img) => perLayer(img, (b) => `igzip -dc '${b}' >/dev/null`),
  "floor: tar -xf inflated": (img, dest) => {
    mkdirSync(dest);
    const tars = inflated(img);
    return perLayer({ layers: { blobs: tars } }, (t) => `tar -xf '${t}' -C '${dest}'`);
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
  const runs = [];
  const order = Object.entries(tools);
  inflated(img);
  let previous = "none";
  for (let round = 0; round < rounds; round++) {
    // Rotate who goes first: the first run of a round inherits the writeback of the last one.
    const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
    for (const [name, run] of rotated) {
      const dest = join(trees, `work-${Date.now()}-${round}-${name.replace(/\W/g, "")}`);
      execFileSync("sync");
      const dirty = dirtyMb();
      const r = run(img, dest);
      times[name].push(r.seconds);
      rss[name].push(r.rss);
      runs.push({ round, tool: name, after: previous, dirtyMbAtStart: dirty, seconds: r.seconds });
      previous = name;
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
    runs,
    ratios: {
      "strata/tar": perRound("strata", "tar -xzf"),
      "strata/tar -I igzip": perRound("strata", "tar -I igzip"),
      "strata/tar -I pigz": perRound("strata", "tar -I pigz"),
      "strata/floor (tar -xf inflated)": perRound("strata", "floor: tar -xf inflated"),
      ...(times.umoci ? { "strata/umoci": perRound("strata", "umoci") } : {}),
    },
  });
}

// --keep-trees: the caller throws the whole filesystem away (fresh-ext4.sh).
if (values["keep-trees"] !== true)
  for (const dest of written.splice(0)) rmSync(dest, { recursive: true, force: true });
for (const img of images) for (const tar of img.inflated ?? []) rmSync(tar, { force: true });

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
