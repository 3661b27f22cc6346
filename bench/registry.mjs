// "Registry reference -> rootfs" (issue #11): strata unpack docker://... vs
// skopeo copy to an OCI layout + umoci unpack, from Debian's docker-registry
// started here on a loopback port, interleaved with the order rotated every
// round, each tool into a fresh directory (its own fresh layout for skopeo).
//   node bench/registry.mjs [--rounds N] [--image oci:DIR:TAG ...] [--dest DIR]
// (after `pnpm run build`; needs docker-registry, skopeo, umoci, GNU time).
// Default image: the generated 30k-entry one (bench/generate.mjs). Prints a
// markdown table: medians (min-max), per-round ratios, peak RSS.
// Not yet measured here: containerd (ctr image pull) and podman pull.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { rounds: { type: "string" }, image: { type: "string", multiple: true }, dest: { type: "string" } } });
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const bin = join(root, "packages", "strata", "bin", "strata.js");
const images = values.image ?? [];
if (images.length === 0) {
  const dir = join(root, "bench", "data", "img-30000");
  if (!existsSync(join(dir, "index.json"))) execFileSync(process.execPath, [join(root, "bench", "generate.mjs"), dir, "--entries", "30000"], { stdio: "inherit" });
  images.push(`oci:${dir}:bench`);
}
const trees = resolve(values.dest ?? join(root, "bench", "out"));
mkdirSync(trees, { recursive: true });

const port = await new Promise((done) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port: p } = server.address();
    server.close(() => done(p));
  });
});
const work = mkdtempSync(join(trees, "registry-bench-"));
writeFileSync(join(work, "config.yml"), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, "data")}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
const registry = spawn("docker-registry", ["serve", join(work, "config.yml")], { stdio: "ignore" });
await new Promise((done) => setTimeout(done, 1500));

function timed(cmd, args) {
  const started = process.hrtime.bigint();
  const run = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${run.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, rssMb: Number(run.stderr.trim().split("\n").at(-1)) / 1024 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const TOOLS = {
  strata: (ref, dir) => timed(process.execPath, [bin, "unpack", "--quiet", ref, join(dir, "rootfs")]),
  "skopeo+umoci": (ref, dir) => {
    const copy = timed("skopeo", ["copy", "-q", "--src-tls-verify=false", ref, `oci:${join(dir, "layout")}:t`]);
    const unpack = timed("umoci", ["unpack", "--image", `${join(dir, "layout")}:t`, join(dir, "bundle")]);
    return { seconds: copy.seconds + unpack.seconds, rssMb: Math.max(copy.rssMb, unpack.rssMb), download: copy.seconds };
  },
};

console.log("| image | tool | median s (min-max) | peak RSS MB | per round |");
console.log("| --- | --- | --- | --- | --- |");
try {
  for (const [i, image] of images.entries()) {
    const repo = `bench/image${i}`;
    execFileSync("skopeo", ["copy", "-q", "--dest-tls-verify=false", image, `docker://127.0.0.1:${port}/${repo}:latest`]);
    const ref = `docker://127.0.0.1:${port}/${repo}:latest`;
    const times = Object.fromEntries(Object.keys(TOOLS).map((tool) => [tool, []]));
    const rss = Object.fromEntries(Object.keys(TOOLS).map((tool) => [tool, 0]));
    const downloads = [];
    for (let round = 0; round < rounds; round++) {
      const order = Object.keys(TOOLS);
      for (let k = 0; k < round % order.length; k++) order.push(order.shift());
      for (const tool of order) {
        const dir = mkdtempSync(join(work, `${tool.replace("+", "-")}-`));
        const result = TOOLS[tool](ref, dir);
        times[tool].push(result.seconds);
        rss[tool] = Math.max(rss[tool], result.rssMb);
        if (result.download !== undefined) downloads.push(result.download);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    for (const tool of Object.keys(TOOLS)) {
      const t = times[tool];
      const ratios = tool === "strata" ? "" : t.map((x, r) => (times.strata[r] / x).toFixed(2)).join(", ");
      console.log(`| ${image} | ${tool} | ${median(t).toFixed(2)} (${Math.min(...t).toFixed(2)}-${Math.max(...t).toFixed(2)}) | ${rss[tool].toFixed(0)} | ${ratios === "" ? "" : `strata/${tool}: ${ratios}`} |`);
    }
    console.log(`| ${image} | skopeo copy alone (download) | ${median(downloads).toFixed(2)} (${Math.min(...downloads).toFixed(2)}-${Math.max(...downloads).toFixed(2)}) | | strata/download: ${times.strata.map((x, r) => (x / downloads[r]).toFixed(2)).join(", ")} |`);
  }
} finally {
  registry.kill();
  rmSync(work, { recursive: true, force: true });
}
