// The build tools' loop (issue #13): export and repack, interleaved with the
// order rotated every round, each from nothing.
//   node bench/build.mjs [--rounds N] [--image oci:DIR:TAG] [--dest DIR]
// (after `pnpm run build`, as root; needs GNU tar, gzip, igzip (isal), umoci
// and GNU time, installed with apt when missing), or on a fresh ext4:
// bash bench/fresh-ext4.sh build.mjs --rounds 3 --image oci:bench/data/debian:minbase [--only
// repack] [--skip "| gzip"]
// Export: `strata export` of the image against `tar -c` of the unpacked tree,
// plain and piped through gzip -6 and igzip. Repack: the same change (files
// rewritten, added and removed) to a rootfs, `strata repack` (which unpacks
// the image itself to diff against) and `strata repack --record` (which
// compares with the record its unpack kept) against `umoci repack` (which
// compares with the mtree its unpack kept); those unpacks are not timed.
import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { installMissing, printTable, runRounds, timedShell } from "./rounds.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    image: { type: "string" },
    dest: { type: "string" },
    only: { type: "string" },
    skip: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const bin = join(root, "packages", "strata", "bin", "strata.js");
installMissing([
  ["igzip", "isal"],
  ["umoci", "umoci"],
  ["gzip", "gzip"],
]);
const image = values.image ?? `oci:${join(root, "bench", "data", "debian")}:minbase`;
const [, layoutPath, tag] = /^oci:(.*):([^:]+)$/.exec(image) ?? [];
if (layoutPath === undefined || !existsSync(join(layoutPath, "index.json")))
  throw new Error(`no OCI layout for ${image} (bench/debian.sh makes bench/data/debian)`);
const work = mkdtempSync(join(resolve(values.dest ?? join(root, "bench", "out")), "build-bench-"));

const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
// export keeps the files' bytes in $TMPDIR while it reads: on the filesystem measured, not /tmp.
const spool = join(work, "tmp");
mkdirSync(spool);
const strata = `TMPDIR=${q(spool)} node ${q(bin)}`;

/**
 * The change a build step makes: every 20th regular file rewritten, 300 files added, every 50th
 * removed.
 */
function change(rootfs) {
  let seen = 0;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stats = statSync(path, { throwIfNoEntry: false });
      if (stats === undefined) continue;
      if (stats.isDirectory() && !stats.isSymbolicLink()) walk(path);
      else if (stats.isFile() && stats.nlink === 1) {
        seen++;
        if (seen % 50 === 0) rmSync(path);
        else if (seen % 20 === 0) appendFileSync(path, "changed by the build\n");
      }
    }
  };
  walk(join(rootfs, "usr"));
  mkdirSync(join(rootfs, "opt", "added"), { recursive: true });
  for (let i = 0; i < 300; i++)
    writeFileSync(join(rootfs, "opt", "added", `f${i}`), `file ${i}\n`.repeat(200));
}

// A private copy of the layout: umoci repack writes into it.
const layout = join(work, "layout");
cpSync(layoutPath, layout, { recursive: true });
const base = join(work, "base");
execFileSync(process.execPath, [bin, "unpack", "--quiet", `oci:${layout}:${tag}`, base]);

const TOOLS = {
  "strata export": (dir) =>
    timedShell(`${strata} export oci:${q(layout)}:${tag} -o ${q(join(dir, "out.tar"))}`),
  "tar -c": (dir) => timedShell(`tar -C ${q(base)} -cf ${q(join(dir, "out.tar"))} .`),
  "strata export | gzip": (dir) =>
    timedShell(
      `${strata} export oci:${q(layout)}:${tag} -o - | gzip -6 > ${q(join(dir, "out.tgz"))}`,
    ),
  "tar -c | gzip": (dir) =>
    timedShell(`tar -C ${q(base)} -cf - . | gzip -6 > ${q(join(dir, "out.tgz"))}`),
  "strata export | igzip": (dir) =>
    timedShell(
      `${strata} export oci:${q(layout)}:${tag} -o - | igzip -c > ${q(join(dir, "out.tgz"))}`,
    ),
  "tar -c | igzip": (dir) =>
    timedShell(`tar -C ${q(base)} -cf - . | igzip -c > ${q(join(dir, "out.tgz"))}`),
  "strata repack": (dir, round) => {
    const rootfs = join(dir, "rootfs");
    execFileSync(process.execPath, [bin, "unpack", "--quiet", `oci:${layout}:${tag}`, rootfs]);
    change(rootfs);
    return timedShell(
      `node ${q(bin)} repack oci:${q(layout)}:${tag} ${q(rootfs)} oci:${q(layout)}:strata-` +
        `${round} >/dev/null`,
    );
  },
  "strata repack --record": (dir, round) => {
    const rootfs = join(dir, "rootfs");
    const record = join(dir, "record");
    execFileSync(process.execPath, [
      bin,
      "unpack",
      "--quiet",
      "--record",
      record,
      `oci:${layout}:${tag}`,
      rootfs,
    ]);
    change(rootfs);
    return timedShell(
      `node ${q(bin)} repack --record ${q(record)} oci:${q(layout)}:${tag} ${q(rootfs)} oci:` +
        `${q(layout)}:strata-record-${round} >/dev/null`,
    );
  },
  "umoci repack": (dir, round) => {
    const bundle = join(dir, "bundle");
    execFileSync("umoci", ["unpack", "--image", `${layout}:${tag}`, bundle]);
    change(join(bundle, "rootfs"));
    return timedShell(`umoci repack --image ${q(`${layout}:umoci-${round}`)} ${q(bundle)}`);
  },
};

// --only repack (or export): the tools whose names contain it, and what they are compared with.
const PAIRED = {
  "strata export": ["tar -c", "tar -c | igzip"],
  "strata export | gzip": "tar -c | gzip",
  "strata export | igzip": "tar -c | igzip",
  "strata repack": "umoci repack",
  "strata repack --record": "umoci repack",
};
if (values.only !== undefined) {
  const keep = new Set(
    Object.keys(TOOLS)
      .filter((tool) => tool.includes(values.only))
      .flatMap((tool) => [tool, PAIRED[tool] ?? []].flat()),
  );
  for (const tool of Object.keys(TOOLS)) if (!keep.has(tool)) delete TOOLS[tool];
}
// --skip "| gzip": the tools whose names contain it left out (gzip -6 takes 10 s a round).
if (values.skip !== undefined)
  for (const tool of Object.keys(TOOLS)) if (tool.includes(values.skip)) delete TOOLS[tool];
printTable(`${image}, ${rounds} rounds`, runRounds(TOOLS, rounds, work), PAIRED);
rmSync(work, { recursive: true, force: true });
