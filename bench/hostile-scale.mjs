// Time and peak RSS of the CLI on hostile inputs at three sizes (issue #9,
// classes 4 and 5): each must stay flat in memory and linear in time.
//   node bench/hostile-scale.mjs [FILTER]   (after `pnpm run build`; FILTER picks cases by name)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compress as zstdCompress } from "zstd-napi";
import { writeOciLayout } from "@strata-oci/image";
import { writeTar } from "@strata-oci/layer";

const BIN = join(import.meta.dirname, "..", "packages", "strata", "bin", "strata.js");
const file = (name, data = "x", extra = {}) => ({ name, type: "file", data, ...extra });

const CASES = {
  "zstd bomb, --max-total-bytes 16M": [64, 256, 1024].map((mb) => ({
    size: `${mb} MiB of zeros`,
    layers: () => [
      {
        tar: writeTar([file("zero", Buffer.alloc(mb << 20))]),
        compression: "zstd",
        compress: (t) => zstdCompress(t),
      },
    ],
    flags: ["--max-total-bytes", "16M"],
  })),
  "stacked 512 KiB PAX headers": [100, 400, 1600].map((n) => ({
    size: `${n} headers`,
    layers: () => [
      {
        tar: writeTar(
          Array.from({ length: n }, (_, i) =>
            file(`f${i}`, "x", { pax: { comment: "c".repeat(512 << 10) } }),
          ),
        ),
      },
    ],
    flags: [],
  })),
  "repeated opaque markers on a directory of this layer": [1000, 2000, 4000].map((n) => ({
    size: `${n} markers`,
    layers: () => [
      {
        tar: writeTar([
          { name: "d", type: "dir" },
          ...Array.from({ length: 500 }, (_, i) => file(`d/f${i}`)),
          ...Array.from({ length: n }, () => file("d/.wh..wh..opq")),
        ]),
      },
    ],
    flags: [],
  })),
  "symlink chain expanding per entry (refused)": [500, 2000, 8000].map((n) => ({
    size: `${n} files`,
    layers: () => [
      {
        tar: writeTar([
          { name: "base", type: "dir" },
          ...Array.from({ length: 39 }, (_, i) => ({
            name: `s${i}`,
            type: "symlink",
            linkname: `${"./".repeat(1000)}${i === 0 ? "base" : `s${i - 1}`}`,
          })),
          ...Array.from({ length: n }, (_, i) => file(`s38/f${i}`)),
        ]),
      },
    ],
    flags: [],
  })),
  "entries with 4 KB paths": [10000, 30000, 100000].map((n) => ({
    size: `${n} entries`,
    layers: () => [
      {
        tar: writeTar(
          Array.from({ length: n }, (_, i) => file(`${"d".repeat(200)}/`.repeat(19) + `f${i}`)),
        ),
      },
    ],
    flags: [],
  })),
};

console.log("| input | size | exit | code | seconds | peak RSS MB |");
console.log("| --- | --- | --- | --- | --- | --- |");
const filter = process.argv[2] ?? "";
for (const [name, sizes] of Object.entries(CASES).filter(([name]) => name.includes(filter))) {
  for (const c of sizes) {
    const dir = mkdtempSync(join(tmpdir(), "strata-hostile-scale-"));
    try {
      writeOciLayout(join(dir, "image"), { layers: c.layers(), tag: "t" });
      const started = process.hrtime.bigint();
      const run = spawnSync(
        "/usr/bin/time",
        [
          "-f",
          "%M",
          process.execPath,
          BIN,
          "unpack",
          "--quiet",
          ...c.flags,
          `oci:${join(dir, "image")}:t`,
          join(dir, "dest"),
        ],
        { encoding: "utf8", timeout: 300_000 },
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const lines = run.stderr.trim().split("\n");
      const rss = Number(lines.at(-1)) / 1024;
      const code = /code: (STRATA_[A-Z_]+)/.exec(run.stderr)?.[1] ?? "-";
      console.log(
        `| ${name} | ${c.size} | ${run.status} | ${code} | ${seconds.toFixed(2)} | ` +
          `${rss.toFixed(0)} |`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
