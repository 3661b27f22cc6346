// One large layer through every transport (issue #22's memory target: peak
// RSS under 200 MB for a 1 GiB layer, pushed and pulled). The layer is a tar
// of one file of incompressible bytes, gzipped at level 1, written to a
// layout as it is made (nothing held in memory). Then, interleaved with
// skopeo where skopeo does the same job, each timed with its peak RSS:
//   push     strata copy oci: -> docker://   vs skopeo copy
//   pull     strata copy docker:// -> oci:   vs skopeo copy
//   unpack   strata unpack docker://         (the layer's bytes written to a rootfs)
//   archive  strata copy docker:// -> docker-archive:
//   node bench/big-layer.mjs [--mib N] [--rounds N] [--dest DIR]
// (after `pnpm run build`; needs docker-registry and skopeo, installed with apt when missing).
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync } from "node:fs";
import { writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { installMissing, printTable, startRegistry, timed } from "./rounds.mjs";

const { values } = parseArgs({
  options: { mib: { type: "string" }, rounds: { type: "string" }, dest: { type: "string" } },
});
const mib = Number(values.mib ?? 1024);
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const strata = join(root, "packages", "strata", "bin", "strata");
installMissing([
  ["docker-registry", "docker-registry"],
  ["skopeo", "skopeo"],
]);
const work = values.dest ?? join(root, "bench", "out");
mkdirSync(work, { recursive: true });
const scratch = mkdtempSync(join(work, "big-"));

/** A ustar header for a regular file `name` of `size` bytes. */
function tarHeader(name, size) {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return header;
}

/** The layout: one layer (a file of `bytes` random bytes), gzipped as it is written. */
async function writeBigLayout(dir, bytes) {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const diff = createHash("sha256");
  const blob = createHash("sha256");
  const temporary = join(dir, "blobs", "sha256", "layer.tmp");
  const fd = openSync(temporary, "w");
  let blobSize = 0;
  const gzip = createGzip({ level: 1 });
  gzip.on("data", (chunk) => {
    blob.update(chunk);
    blobSize += chunk.length;
    writeSync(fd, chunk);
  });
  const ended = new Promise((done) => gzip.on("end", done));
  const put = async (chunk) => {
    diff.update(chunk);
    if (!gzip.write(chunk)) await new Promise((done) => gzip.once("drain", done));
  };
  await put(tarHeader("big.bin", bytes));
  for (let left = bytes; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    left -= chunk.length;
    await put(chunk);
  }
  await put(Buffer.alloc(((512 - (bytes % 512)) % 512) + 1024));
  gzip.end();
  await ended;
  closeSync(fd);
  const layer = { digest: `sha256:${blob.digest("hex")}`, size: blobSize };
  renameSync(temporary, join(dir, "blobs", "sha256", layer.digest.slice(7)));
  const json = (value) => {
    const data = Buffer.from(JSON.stringify(value));
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    writeFileSync(join(dir, "blobs", "sha256", digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const config = json({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [`sha256:${diff.digest("hex")}`] },
  });
  const manifest = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
  });
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": "big" },
        },
      ],
    }),
  );
  return layer;
}

const empty = () => ({ strata: [], skopeo: [] });
const stats = () => ({ times: empty(), rss: { strata: 0, skopeo: 0 } });
const note = (table, tool, result) => {
  table.times[tool].push(result.seconds);
  table.rss[tool] = Math.max(table.rss[tool], result.rssMb);
};

try {
  const layout = join(scratch, "layout");
  const layer = await writeBigLayout(layout, mib * 1024 * 1024);
  console.log(`\n## one layer of ${mib} MiB (${(layer.size / 2 ** 20).toFixed(0)} MiB gzip)\n`);
  const image = `oci:${layout}:big`;
  const push = stats();
  const pull = stats();
  const unpack = { times: { strata: [] }, rss: { strata: 0 } };
  const archive = { times: { strata: [] }, rss: { strata: 0 } };
  for (let round = 0; round < rounds; round++) {
    const dir = mkdtempSync(join(scratch, "round-"));
    const registry = await startRegistry(dir);
    const env = { ...process.env, HOME: dir };
    const order = round % 2 === 0 ? ["strata", "skopeo"] : ["skopeo", "strata"];
    for (const tool of order) {
      const target = `docker://${registry.host}/bench/${tool}:t`;
      note(
        push,
        tool,
        tool === "strata"
          ? timed(strata, ["copy", "-q", image, target], { env })
          : timed("skopeo", ["copy", "-q", "--dest-tls-verify=false", image, target], { env }),
      );
    }
    for (const tool of order) {
      const from = `docker://${registry.host}/bench/${tool}:t`;
      const to = `oci:${join(dir, `pulled-${tool}`)}:t`;
      note(
        pull,
        tool,
        tool === "strata"
          ? timed(strata, ["copy", "-q", from, to], { env })
          : timed("skopeo", ["copy", "-q", "--src-tls-verify=false", from, to], { env }),
      );
      rmSync(join(dir, `pulled-${tool}`), { recursive: true, force: true });
    }
    const from = `docker://${registry.host}/bench/strata:t`;
    note(unpack, "strata", timed(strata, ["unpack", "-q", from, join(dir, "rootfs")], { env }));
    rmSync(join(dir, "rootfs"), { recursive: true, force: true });
    const tar = join(dir, "a.tar");
    note(archive, "strata", timed(strata, ["copy", "-q", from, `docker-archive:${tar}:b:1`]));
    registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  printTable("push to a loopback registry", push, { strata: "skopeo" });
  printTable("\npull into a layout", pull, { strata: "skopeo" });
  printTable("\nunpack from the registry", unpack, {});
  printTable("\ncopy from the registry to a docker-archive", archive, {});
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
