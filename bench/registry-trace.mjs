// Where a registry unpack through a limited link spends its time (issue #24.5): Debian's
// docker-registry on loopback behind bench's rate-limited proxy, and `strata unpack` run as the
// library in a child process that notes, from its own start: the library loaded, the image
// opened (manifest and config read), the first layer byte received, the last, the last layer
// read, and the end (staging renamed). Beside it, `skopeo copy` (download only) through the same
// link, interleaved. The CLI starts faster than the library unbundled (a bundle, a code cache).
//   node bench/registry-trace.mjs [--rounds N] [--rate MB/s] [--image oci:DIR:TAG] [--dest DIR]
// TRACE_HTTP=1 prints each request of strata's with its time.
// (after `pnpm run build`, as root; or bash bench/fresh-ext4.sh registry-trace.mjs ...)
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { installMissing, median, rateLimitedProxy, startRegistry } from "./rounds.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    rate: { type: "string" },
    image: { type: "string" },
    dest: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 5);
const rate = Number(values.rate ?? 100);
const root = resolve(import.meta.dirname, "..");
const image = values.image ?? `oci:${join(root, "bench", "data", "debian")}:minbase`;
installMissing([
  ["docker-registry", "docker-registry"],
  ["skopeo", "skopeo"],
]);
const trees = resolve(values.dest ?? join(root, "bench", "out"));
mkdirSync(trees, { recursive: true });
const work = mkdtempSync(join(trees, "registry-trace-"));

// The child: strata's library, its progress events stamped with the time since the process began.
const child = join(work, "trace.mjs");
const core = pathToFileURL(join(root, "packages", "core", "dist", "index.js")).href;
writeFileSync(
  child,
  `import { unpack } from ${JSON.stringify(core)};
const [image, dest] = process.argv.slice(2);
const now = () => performance.now();
const marks = { imported: now() };
// TRACE_HTTP=1: each request's start and response end on stderr.
if (process.env.TRACE_HTTP) {
  const channels = await import("node:diagnostics_channel");
  const at = () => now().toFixed(1);
  channels.subscribe("http.client.request.start", ({ request }) =>
    console.error("request", at(), request.method, request.path),
  );
  channels.subscribe("http.client.response.finish", ({ request, response }) =>
    console.error("response", at(), response.statusCode, request.path),
  );
}
await unpack({
  image,
  dest,
  onProgress(event) {
    if (event.kind === "image") marks.opened = now();
    if (event.kind === "download") {
      marks.firstByte ??= now();
      if (event.received === event.total) marks.lastByte ??= now();
    }
    if (event.kind === "layer-done") marks.layersRead = now();
  },
});
marks.end = now();
console.log(JSON.stringify(marks));
`,
);

function run(cmd, args) {
  const started = process.hrtime.bigint();
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  proc.stdout.on("data", (chunk) => (stdout += chunk));
  return new Promise((done, fail) =>
    proc.on("close", (status) =>
      status === 0
        ? done({ seconds: Number(process.hrtime.bigint() - started) / 1e9, stdout })
        : fail(new Error(`${cmd} exited ${status}`)),
    ),
  );
}

const registry = await startRegistry(work);
const port = Number(registry.host.split(":")[1]);
const proxy = await rateLimitedProxy(port, rate * 1e6);
try {
  execFileSync("skopeo", [
    "copy",
    "-q",
    "--dest-tls-verify=false",
    image,
    `docker://${registry.host}/trace:latest`,
  ]);
  const ref = `docker://${proxy.host}/trace:latest`;
  const rows = { strata: [], skopeo: [], marks: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ["strata", "skopeo"] : ["skopeo", "strata"];
    for (const tool of order) {
      const dir = mkdtempSync(join(work, "run-"));
      execFileSync("sync");
      if (tool === "strata") {
        const result = await run(process.execPath, [child, ref, join(dir, "rootfs")]);
        rows.strata.push(result.seconds);
        rows.marks.push(JSON.parse(result.stdout));
      } else {
        const args = ["copy", "-q", "--src-tls-verify=false", ref, `oci:${join(dir, "l")}:t`];
        rows.skopeo.push((await run("skopeo", args)).seconds);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ms = (xs) =>
    `${(median(xs) * 1000).toFixed(0)} (${xs.map((x) => (x * 1000).toFixed(0)).join(", ")})`;
  console.log(`${image} through ${rate} MB/s, ${rounds} rounds (ms since each process began)`);
  console.log("| | median ms (per round) |");
  console.log("| --- | --- |");
  console.log(`| skopeo copy (download only), whole process | ${ms(rows.skopeo)} |`);
  console.log(`| strata unpack (library in a child), whole process | ${ms(rows.strata)} |`);
  for (const mark of ["imported", "opened", "firstByte", "lastByte", "layersRead", "end"])
    console.log(`| strata: ${mark} | ${ms(rows.marks.map((m) => m[mark] / 1000))} |`);
  console.log(
    `| strata/skopeo per round | ${rows.strata.map((s, r) => (s / rows.skopeo[r]).toFixed(2)).join(", ")} |`,
  );
} finally {
  proxy.stop();
  registry.stop();
  rmSync(work, { recursive: true, force: true });
}
