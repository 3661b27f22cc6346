// Measures zstd decompression throughput of the two backends strata can use
// (zstd-napi native, fzstd pure JS) on one generated layer, interleaved.
//   node bench/zstd.mjs [LAYER_BLOB.gz] [--rounds N]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { compress } from "zstd-napi";
import { decompressChunks } from "@strata-oci/layer";

const dir = join(import.meta.dirname, "data", "img-20000", "blobs", "sha256");
const blob =
  process.argv[2] ??
  readdirSync(dir)
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
const tar = gunzipSync(readFileSync(blob));
const zst = compress(tar);
console.log(`tar ${(tar.length / 1e6).toFixed(0)} MB, zstd ${(zst.length / 1e6).toFixed(0)} MB`);

async function run(backend) {
  const started = process.hrtime.bigint();
  let bytes = 0;
  const chunks = [];
  for (let i = 0; i < zst.length; i += 1 << 20) chunks.push(zst.subarray(i, i + (1 << 20)));
  const { Readable } = await import("node:stream");
  for await (const c of decompressChunks("zstd", Readable.from(chunks), backend)) bytes += c.length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (bytes !== tar.length) throw new Error("size mismatch");
  return tar.length / 1e6 / seconds;
}
const rounds = 3;
const results = { native: [], js: [] };
for (let i = 0; i < rounds; i++) for (const b of ["native", "js"]) results[b].push(await run(b));
for (const [b, v] of Object.entries(results))
  console.log(
    `${b}: ${v.map((x) => x.toFixed(0)).join(", ")} MB/s (median ` +
      `${[...v].sort((a, c) => a - c)[1].toFixed(0)})`,
  );
