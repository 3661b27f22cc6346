// Why strata is slower right after other tools' writes (issue #24): strata
// unpack timed in pairs, each after one "before" step, on the same
// filesystem: after nothing, after a strata unpack, after `tar -xzf` of the
// same image, each with and without `sync` between the two (and the page
// cache dropped, once). For each run: the kernel's dirty and writeback bytes
// as it starts, and the jbd2 transactions its filesystem committed while it
// ran. Prints a markdown table of medians.
//   node bench/after-writers.mjs [--rounds N] [--image oci:DIR:TAG] [--dest DIR]
// (as root; bash bench/fresh-ext4.sh after-writers.mjs ... on a fresh ext4).
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { median, timed } from "./rounds.mjs";

const { values } = parseArgs({
  options: { rounds: { type: "string" }, image: { type: "string" }, dest: { type: "string" } },
});
const root = resolve(import.meta.dirname, "..");
const strata = join(root, "packages", "strata", "bin", "strata");
const image = values.image ?? `oci:${join(root, "bench", "data", "debian")}:minbase`;
const rounds = Number(values.rounds ?? 5);
const work = values.dest ?? join(root, "bench", "out");
mkdirSync(work, { recursive: true });
const scratch = mkdtempSync(join(work, "after-"));

const layout = image.replace(/^oci:/, "").replace(/:[^:/]*$/, "");
const tag = image.slice(image.lastIndexOf(":") + 1);
const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
const named = index.manifests.find(
  (m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag,
);
const blob = (digest) => join(layout, "blobs", "sha256", digest.slice(7));
const blobs = JSON.parse(readFileSync(blob(named.digest), "utf8")).layers.map((l) =>
  blob(l.digest),
);

/** Dirty + writeback MB now. */
function dirtyMb() {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  return (kb("Dirty") + kb("Writeback")) / 1024;
}

/** The jbd2 transactions committed so far on the device holding `dir`. */
function commits(dir) {
  const dev = statSync(dir).dev;
  const name = `${Math.floor(dev / 256)}:${dev % 256}`;
  for (const entry of existsSync("/proc/fs/jbd2") ? readdirSync("/proc/fs/jbd2") : []) {
    const info = join("/proc/fs/jbd2", entry, "info");
    if (!existsSync(info)) continue;
    const text = readFileSync(info, "utf8");
    const major = /^(\d+) transactions/m.exec(text);
    // The directory names the device (loop0-8, sda1-8): take the one whose numbers match.
    const sys = spawnSync("sh", ["-c", `cat /sys/class/block/${entry.replace(/-\d+$/, "")}/dev`], {
      encoding: "utf8",
    }).stdout.trim();
    if (sys === name) return Number(major?.[1] ?? 0);
  }
  return Number.NaN;
}

const fresh = () => mkdtempSync(join(scratch, "t-"));
const before = {
  nothing: () => {},
  strata: () => timed(strata, ["unpack", "-q", image, join(fresh(), "r")]),
  "tar -xzf": () => {
    const dir = fresh();
    execFileSync("sh", ["-c", blobs.map((b) => `tar -xzf '${b}' -C '${dir}'`).join(" && ")]);
  },
};

const rows = [];
for (const [step, run] of Object.entries(before))
  for (const between of ["none", "sync", "sync + drop caches"]) {
    if (step === "nothing" && between !== "none") continue;
    const times = [];
    const dirty = [];
    const committed = [];
    for (let round = 0; round < rounds; round++) {
      execFileSync("sync");
      run();
      if (between !== "none") execFileSync("sync");
      if (between === "sync + drop caches")
        execFileSync("sh", ["-c", "echo 3 > /proc/sys/vm/drop_caches"]);
      dirty.push(dirtyMb());
      const dest = join(fresh(), "r");
      const start = commits(scratch);
      times.push(timed(strata, ["unpack", "-q", image, dest]).seconds);
      committed.push(commits(scratch) - start);
      // Both trees go before the next pair, the same way for every row.
      for (const entry of readdirSync(scratch))
        rmSync(join(scratch, entry), { recursive: true, force: true });
    }
    rows.push(
      `| ${step} | ${between} | ${median(times).toFixed(2)} (${Math.min(...times).toFixed(2)}-` +
        `${Math.max(...times).toFixed(2)}) | ${median(dirty).toFixed(0)} | ` +
        // NaN: a filesystem without a journal (the root ext4 here has none).
        `${Number.isNaN(median(committed)) ? "no journal" : median(committed)} |`,
    );
  }
console.log(`strata unpack ${image}, ${rounds} rounds each, on ${work}\n`);
console.log("| before | between | strata s | dirty+writeback MB at start | jbd2 commits during |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
