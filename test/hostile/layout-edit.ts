import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Json = Record<string, any>;

function blobPath(layout: string, digest: string): string {
  return join(layout, "blobs", "sha256", digest.slice("sha256:".length));
}

function putJson(layout: string, value: unknown): { digest: string; size: number } {
  const data = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  writeFileSync(blobPath(layout, digest), data);
  return { digest, size: data.length };
}

/** Reads the layout's index, first manifest and its config. */
export function readLayoutParts(layout: string): { index: Json; manifest: Json; config: Json } {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as Json;
  const manifest = JSON.parse(
    readFileSync(blobPath(layout, index.manifests[0].digest), "utf8"),
  ) as Json;
  const config = JSON.parse(readFileSync(blobPath(layout, manifest.config.digest), "utf8")) as Json;
  return { index, manifest, config };
}

/** Rewrites the manifest (and so index.json) after `edit` changed it. */
export function editManifest(layout: string, edit: (manifest: Json) => void): void {
  const { index, manifest } = readLayoutParts(layout);
  edit(manifest);
  Object.assign(index.manifests[0], putJson(layout, manifest));
  writeFileSync(join(layout, "index.json"), JSON.stringify(index));
}

/** Rewrites the config (and so the manifest) after `edit` changed it. */
export function editConfig(layout: string, edit: (config: Json) => void): void {
  const { config } = readLayoutParts(layout);
  edit(config);
  const written = putJson(layout, config);
  editManifest(layout, (m) => Object.assign(m.config, written));
}

/** The path of layer `n`'s blob. */
export function layerBlob(layout: string, n = 0): string {
  return blobPath(layout, readLayoutParts(layout).manifest.layers[n].digest);
}

/** Replaces layer `n`'s blob with `data`, fixing digest and size in the manifest. */
export function replaceLayerBlob(layout: string, data: Buffer, n = 0): void {
  const old = layerBlob(layout, n);
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  writeFileSync(blobPath(layout, digest), data);
  if (old !== blobPath(layout, digest)) rmSync(old);
  editManifest(layout, (m) => Object.assign(m.layers[n], { digest, size: data.length }));
}
