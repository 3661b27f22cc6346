// Generates a large, seeded, multi-layer OCI image for benchmarks, streaming
// every layer to disk (nothing is held whole in memory).
//   node bench/generate.mjs OUT_DIR [--entries N] [--seed S] [--distinct]
// --distinct: no path twice in one layer (the upgrade picks each file at
// most once), which podman (containers/storage: "duplicates of file paths
// not supported") and containerd's overlayfs snapshotter (a whiteout and a
// file of one name in one layer: "file exists") refuse, though the OCI
// changeset rules allow both.
// Layer 0: a base tree (mostly small files, some large, symlinks, hardlinks,
// deep and wide directories). Layer 1: overwrites and deletes a large part of
// layer 0 (a package upgrade). Layer 2: cleanup of docs and caches (whiteouts,
// opaque directories) plus a few new files.
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { encodeMember } from "@strata-oci/layer";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { entries: { type: "string" }, seed: { type: "string" }, distinct: { type: "boolean" } },
});
const out = positionals[0];
if (out === undefined)
  throw new Error("usage: node bench/generate.mjs OUT_DIR [--entries N] [--seed S]");
const ENTRIES = Number(values.entries ?? 100_000);
let seed = Number(values.seed ?? 42) >>> 0;
function random() {
  // mulberry32: small, seeded, good enough for test data
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n) => Math.floor(random() * n);

// Text-like data that gzip compresses about 3-4x, as real rootfs content does.
const WORDS = Array.from({ length: 4096 }, () =>
  Array.from({ length: 2 + pick(9) }, () => String.fromCharCode(97 + pick(26))).join(""),
);
function content(size) {
  const parts = [];
  let length = 0;
  while (length < size) {
    const word = WORDS[pick(WORDS.length)] + (pick(12) === 0 ? "\n" : " ");
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}
// About 15 KB per entry on average: 100,000 entries make a base layer of
// about 1.2 GB, as a large distribution image has.
function fileSize() {
  const r = random();
  if (r < 0.0004) return 4_000_000 + pick(12_000_000); // a few large files
  if (r < 0.02) return 64_000 + pick(400_000);
  return pick(12_000);
}

const T = 1_700_000_000;
class LayerWriter {
  constructor(path) {
    this.path = path;
    this.tarHash = createHash("sha256");
    this.blobHash = createHash("sha256");
    this.blobSize = 0;
    this.gzip = createGzip({ level: 6, chunkSize: 1 << 20 });
    this.file = createWriteStream(path);
    this.gzip.on("data", (chunk) => {
      this.blobHash.update(chunk);
      this.blobSize += chunk.length;
    });
    this.gzip.pipe(this.file);
    this.entries = 0;
    this.bytes = 0;
  }
  async add(member) {
    this.entries++;
    for (const part of encodeMember(member)) {
      this.tarHash.update(part);
      this.bytes += part.length;
      if (!this.gzip.write(part)) await new Promise((resolve) => this.gzip.once("drain", resolve));
    }
  }
  async finish() {
    const end = Buffer.alloc(1024);
    this.tarHash.update(end);
    this.gzip.end(end);
    await new Promise((resolve) => this.file.on("close", resolve));
    return {
      digest: `sha256:${this.blobHash.digest("hex")}`,
      size: this.blobSize,
      diffId: `sha256:${this.tarHash.digest("hex")}`,
      entries: this.entries,
      tarBytes: this.bytes,
    };
  }
}

const blobs = join(out, "blobs", "sha256");
mkdirSync(blobs, { recursive: true });

async function writeLayer(index, fill) {
  const writer = new LayerWriter(join(blobs, `layer-${index}.tmp`));
  await fill(writer);
  const result = await writer.finish();
  renameSync(writer.path, join(blobs, result.digest.slice(7)));
  return result;
}

const dirs = [];
const files = [];
let serial = 0;
const base = await writeLayer(0, async (w) => {
  const top = ["usr", "usr/share", "usr/share/doc", "usr/lib", "var", "var/cache", "etc", "opt"];
  for (const d of top) {
    dirs.push(d);
    await w.add({ name: `${d}/`, type: "dir", mode: 0o755, mtime: T });
  }
  while (files.length + dirs.length < ENTRIES * 0.8) {
    if (random() < 0.1 || dirs.length < 50) {
      const parent = dirs[pick(dirs.length)];
      const depth = parent.split("/").length;
      const name = `${depth > 12 ? dirs[pick(8)] : parent}/d${dirs.length}`;
      dirs.push(name);
      await w.add({ name: `${name}/`, type: "dir", mode: 0o755, mtime: T });
    } else {
      // Without --distinct a symlink or hardlink and the next file share a name (files.length did
      // not grow).
      const name =
        `${dirs[pick(dirs.length)]}/f` +
        `${values.distinct === true ? `${files.length}-${serial++}` : files.length}`;
      const r = random();
      if (r < 0.04 && files.length > 0)
        await w.add({ name, type: "symlink", linkname: `/${files[pick(files.length)]}`, mtime: T });
      else if (r < 0.06 && files.length > 0)
        await w.add({ name, type: "hardlink", linkname: files[pick(files.length)], mtime: T });
      else {
        await w.add({
          name,
          type: "file",
          data: content(fileSize()),
          mode: pick(10) === 0 ? 0o755 : 0o644,
          mtime: T,
        });
        files.push(name);
      }
    }
  }
});
const upgrade = await writeLayer(1, async (w) => {
  const count = Math.floor(ENTRIES * 0.15);
  const picked = new Set();
  for (let i = 0; i < count; i++) {
    const name = files[pick(files.length)];
    if (values.distinct === true) {
      if (picked.has(name)) continue;
      picked.add(name);
    }
    if (random() < 0.6)
      await w.add({ name, type: "file", data: content(fileSize()), mode: 0o644, mtime: T + 1 });
    else await w.add({ name: name.replace(/([^/]+)$/, ".wh.$1"), type: "file", mtime: T + 1 });
  }
});
const cleanup = await writeLayer(2, async (w) => {
  await w.add({ name: "usr/share/doc/.wh..wh..opq", type: "file", mtime: T + 2 });
  await w.add({ name: "var/cache/.wh..wh..opq", type: "file", mtime: T + 2 });
  for (let i = 0; i < ENTRIES * 0.05; i++) {
    await w.add({
      name: `${dirs[pick(dirs.length)]}/new${i}`,
      type: "file",
      data: content(fileSize()),
      mode: 0o644,
      mtime: T + 2,
    });
  }
});

const layers = [base, upgrade, cleanup];
function putJson(value) {
  const data = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  writeFileSync(join(blobs, digest.slice(7)), data);
  return { digest, size: data.length };
}
const config = putJson({
  architecture: "amd64",
  os: "linux",
  config: {},
  rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
});
const manifest = putJson({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
  layers: layers.map((l) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: l.digest,
    size: l.size,
  })),
});
writeFileSync(join(out, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
writeFileSync(
  join(out, "index.json"),
  JSON.stringify({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        annotations: { "org.opencontainers.image.ref.name": "bench" },
      },
    ],
  }),
);
const summary = {
  layers: layers.map(({ digest, size, entries, tarBytes }) => ({
    digest,
    size,
    entries,
    tarBytes,
  })),
};
writeFileSync(join(out, "bench-image.json"), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary));
