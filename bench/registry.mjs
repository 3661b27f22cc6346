// "Registry reference -> rootfs" (issue #11), from Debian's docker-registry
// started here on a loopback port: `strata unpack docker://...` vs `skopeo
// copy` to an OCI layout + `umoci unpack` vs containerd's `ctr image pull`
// (its own daemon on a throwaway root, unpacking into overlayfs snapshots)
// vs `podman pull` (throwaway --root), interleaved with the order rotated
// every round, each tool from nothing every round (fresh layout, daemon
// root, storage). Then through a loopback proxy limited to each --rate (MB/s,
// one limit shared by all connections, as a link would be): strata against
// `skopeo copy` alone (download only), where applying should hide behind
// downloading.
//   node bench/registry.mjs [--rounds N] [--image oci:DIR:TAG ...] [--dest DIR]
//                           [--rate MB/s ...] [--tools strata,skopeo+umoci,ctr,podman]
// (after `pnpm run build`, as root; needs docker-registry, skopeo, umoci,
// containerd, podman and GNU time, installed with apt when missing). Default
// image: a generated 30k-entry one with no path twice in a layer (podman and
// containerd's overlay snapshotter refuse those; bench/generate.mjs
// --distinct). Prints markdown tables: medians (min-max), per-round ratios,
// peak RSS (containerd's: the daemon's high-water mark, it does the work).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { installMissing, median, rateLimitedProxy, startRegistry } from "./rounds.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    image: { type: "string", multiple: true },
    dest: { type: "string" },
    rate: { type: "string", multiple: true },
    tools: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 3);
// --rate 0: loopback only.
const rates = (values.rate ?? ["25", "100"]).map(Number).filter((rate) => rate > 0);
const root = resolve(import.meta.dirname, "..");
const bin = join(root, "packages", "strata", "bin", "strata.js");

installMissing([
  ["docker-registry", "docker-registry"],
  ["skopeo", "skopeo"],
  ["umoci", "umoci"],
  ["containerd", "containerd"],
  ["podman", "podman"],
]);

const images = values.image ?? [];
if (images.length === 0) {
  const dir = join(root, "bench", "data", "img-30000-distinct");
  if (!existsSync(join(dir, "index.json")))
    execFileSync(
      process.execPath,
      [join(root, "bench", "generate.mjs"), dir, "--entries", "30000", "--distinct"],
      { stdio: "inherit" },
    );
  images.push(`oci:${dir}:bench`);
}
const trees = resolve(values.dest ?? join(root, "bench", "out"));
mkdirSync(trees, { recursive: true });

const work = mkdtempSync(join(trees, "registry-bench-"));
const registry = await startRegistry(work);
const port = Number(registry.host.split(":")[1]);

/** Runs a command under GNU time, without blocking this process (the proxy lives here). */
async function timed(cmd, args) {
  const started = process.hrtime.bigint();
  const child = spawn("/usr/bin/time", ["-f", "%M", cmd, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const status = await new Promise((done) => child.on("close", done));
  if (status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${stderr}`);
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    rssMb: Number(stderr.trim().split("\n").at(-1)) / 1024,
  };
}

/** containerd on a throwaway root for one pull; its peak RSS is the daemon's (VmHWM). */
async function ctrPull(ref, dir) {
  const socket = join(dir, "containerd.sock");
  writeFileSync(
    join(dir, "config.toml"),
    `version = 2\nroot = "${join(dir, "root")}"\nstate = "` +
      `${join(dir, "state")}"\n[grpc]\n  address = "${socket}"\n`,
  );
  const daemon = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" });
  try {
    for (let i = 0; i < 100 && !existsSync(socket); i++)
      await new Promise((done) => setTimeout(done, 50));
    const result = await timed("ctr", [
      "-a",
      socket,
      "image",
      "pull",
      "--plain-http",
      ref.replace(/^docker:\/\//, ""),
    ]);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"));
    return { ...result, rssMb: Math.max(result.rssMb, Number(hwm?.[1] ?? 0) / 1024) };
  } finally {
    daemon.kill();
    await new Promise((done) => daemon.on("close", done));
    spawnSync("sh", [
      "-c",
      `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`,
    ]);
  }
}

async function podmanPull(ref, dir) {
  // podman refuses a runroot path over 50 characters; it holds only locks and state.
  const run = mkdtempSync("/tmp/podman-run-");
  const flags = [
    "--root",
    join(dir, "root"),
    "--runroot",
    run,
    "--storage-driver",
    "overlay",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
  ];
  try {
    return await timed("podman", [...flags, "pull", "-q", "--tls-verify=false", ref]);
  } finally {
    spawnSync("podman", [...flags, "system", "reset", "--force"], { stdio: "ignore" });
    spawnSync("sh", [
      "-c",
      `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`,
    ]);
    rmSync(run, { recursive: true, force: true });
  }
}

const TOOLS = {
  strata: (ref, dir) =>
    timed(process.execPath, [bin, "unpack", "--quiet", ref, join(dir, "rootfs")]),
  "skopeo+umoci": async (ref, dir) => {
    const copy = await timed("skopeo", [
      "copy",
      "-q",
      "--src-tls-verify=false",
      ref,
      `oci:${join(dir, "layout")}:t`,
    ]);
    const unpack = await timed("umoci", [
      "unpack",
      "--image",
      `${join(dir, "layout")}:t`,
      join(dir, "bundle"),
    ]);
    return { seconds: copy.seconds + unpack.seconds, rssMb: Math.max(copy.rssMb, unpack.rssMb) };
  },
  ctr: ctrPull,
  podman: podmanPull,
  "skopeo copy (download only)": (ref, dir) =>
    timed("skopeo", ["copy", "-q", "--src-tls-verify=false", ref, `oci:${join(dir, "layout")}:t`]),
};

/** `rounds` interleaved rounds of `tools` on `ref`, one table row per tool. */
async function compare(label, ref, tools) {
  const times = Object.fromEntries(tools.map((tool) => [tool, []]));
  const rss = Object.fromEntries(tools.map((tool) => [tool, 0]));
  for (let round = 0; round < rounds; round++) {
    const order = [...tools];
    for (let k = 0; k < round % order.length; k++) order.push(order.shift());
    for (const tool of order) {
      const dir = mkdtempSync(join(work, `${tool.replace(/[^a-z]+/g, "-")}-`));
      try {
        const result = await TOOLS[tool](ref, dir);
        times[tool].push(result.seconds);
        rss[tool] = Math.max(rss[tool], result.rssMb);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  for (const tool of tools) {
    const t = times[tool];
    const ratios =
      tool === "strata"
        ? ""
        : `strata/${tool}: ${t.map((x, r) => (times.strata[r] / x).toFixed(2)).join(", ")}`;
    console.log(
      `| ${label} | ${tool} | ${median(t).toFixed(2)} (${Math.min(...t).toFixed(2)}-` +
        `${Math.max(...t).toFixed(2)}) | ${rss[tool].toFixed(0)} | ${ratios} |`,
    );
  }
}

const tools = (values.tools ?? "strata,skopeo+umoci,ctr,podman").split(",");
console.log(`${rounds} rounds; trees under ${trees}`);
console.log("| image (link) | tool | median s (min-max) | peak RSS MB | per round |");
console.log("| --- | --- | --- | --- | --- |");
try {
  for (const [i, image] of images.entries()) {
    const repo = `bench/image${i}`;
    execFileSync("skopeo", [
      "copy",
      "-q",
      "--dest-tls-verify=false",
      image,
      `docker://127.0.0.1:${port}/${repo}:latest`,
    ]);
    await compare(`${image} (loopback)`, `docker://127.0.0.1:${port}/${repo}:latest`, tools);
    for (const rate of rates) {
      const proxy = await rateLimitedProxy(port, rate * 1e6);
      try {
        await compare(`${image} (${rate} MB/s)`, `docker://${proxy.host}/${repo}:latest`, [
          "strata",
          "skopeo copy (download only)",
        ]);
      } finally {
        proxy.stop();
      }
    }
  }
} finally {
  registry.stop();
  rmSync(work, { recursive: true, force: true });
}
