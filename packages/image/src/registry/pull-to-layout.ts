import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { AbortedError, DigestMismatchError, ImageError, parseDigest, SizeMismatchError, type Layer } from "@strata-oci/layer";
import type { Descriptor } from "../descriptor.js";
import type { Image } from "../image.js";
import { OCI_INDEX, REF_NAME_ANNOTATION } from "../media-types.js";
import { blobPath } from "../oci-layout.js";
import type { Platform } from "../platform.js";
import type { DockerReference } from "./docker-reference.js";
import type { RegistryOptions } from "./registry-client.js";
import { resolveRegistryImage } from "./registry-source.js";

export interface PullResult {
  readonly image: Image;
  /** The manifest now tagged in the layout. */
  readonly manifest: Descriptor;
  /** Blobs written, and blobs the layout already had (shared with its other images). */
  readonly written: number;
  readonly reused: number;
  readonly bytes: number;
}

export interface PullProgress {
  readonly digest: string;
  /** Bytes of this blob received so far, and its size. */
  readonly bytes: number;
  readonly size: number;
}

/** True when the layout already has this blob (at its size: a blob's name is its digest). */
function hasBlob(layout: string, digest: string, size: number): boolean {
  return statSync(blobPath(layout, digest), { throwIfNoEntry: false })?.size === size;
}

/** Writes a file whole under a temporary name, then renames it into place: readers see all of it or nothing. */
function writeAtomically(path: string, data: Buffer | string): void {
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    writeFileSync(temporary, data, { flag: "wx" });
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Streams a layer's blob into the layout, checking its size and digest before it gets its name. */
async function storeLayer(
  layout: string,
  layer: Layer & { readonly digest: string },
  onProgress: ((progress: PullProgress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<number> {
  const final = blobPath(layout, layer.digest);
  const temporary = `${final}.tmp-${randomBytes(6).toString("hex")}`;
  const { algorithm } = parseDigest(layer.digest);
  const hash = createHash(algorithm);
  const fd = openSync(temporary, "wx", 0o644);
  let bytes = 0;
  const body = await layer.open();
  const stop = (): void => {
    body.destroy(new AbortedError(signal?.reason));
  };
  signal?.addEventListener("abort", stop, { once: true });
  try {
    if (signal?.aborted === true) stop();
    for await (const chunk of body) {
      const data = chunk as Buffer;
      bytes += data.length;
      if (bytes > layer.size) throw new SizeMismatchError(layer.size, bytes, { layer: layer.digest });
      hash.update(data);
      for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
      onProgress?.({ digest: layer.digest, bytes, size: layer.size });
    }
    if (bytes !== layer.size) throw new SizeMismatchError(layer.size, bytes, { layer: layer.digest });
    const actual = `${algorithm}:${hash.digest("hex")}`;
    if (actual !== layer.digest) throw new DigestMismatchError(layer.digest, actual, "layer", { layer: layer.digest });
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, final);
    return bytes;
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    throw error;
  } finally {
    signal?.removeEventListener("abort", stop);
    rmSync(temporary, { force: true });
  }
}

/** index.json with `manifest` tagged `tag`: other tags kept, an older manifest with this tag untagged. */
function tagInIndex(layout: string, manifest: Descriptor, tag: string, platform: Platform | undefined): void {
  const path = join(layout, "index.json");
  let index: { schemaVersion: number; mediaType?: string; manifests: Array<Record<string, unknown>> } = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  if (existsSync(path)) {
    try {
      index = JSON.parse(readFileSync(path, "utf8")) as typeof index;
      if (!Array.isArray(index.manifests)) throw new Error("no manifests list");
    } catch (cause) {
      throw new ImageError("STRATA_BAD_IMAGE", `${path} is not an image index`, { cause, hint: "pull into a new directory, or repair the layout" });
    }
  }
  const kept = index.manifests.filter((m) => (m.annotations as Record<string, string> | undefined)?.[REF_NAME_ANNOTATION] !== tag);
  kept.push({
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    ...(platform === undefined ? {} : { platform }),
    annotations: { [REF_NAME_ANNOTATION]: tag },
  });
  writeAtomically(path, JSON.stringify({ ...index, manifests: kept }));
}

/**
 * Copies the image `ref` names (the manifest for `platform`, its config and
 * layers) into the OCI image layout `layout` as `tag`: blobs first, each
 * verified and renamed into place whole, those the layout has already kept;
 * index.json last, replaced atomically. Later unpacks of `oci:LAYOUT:TAG`
 * need no network.
 */
export async function pullToLayout(
  ref: DockerReference,
  reference: string,
  layout: string,
  tag: string,
  platform: Platform,
  options: RegistryOptions & { onProgress?: (progress: PullProgress) => void; signal?: AbortSignal } = {},
): Promise<PullResult> {
  const { image, manifestBody, configDescriptor, configBody } = await resolveRegistryImage(ref, reference, platform, options);
  const manifest = image.manifest as Descriptor;
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  if (!existsSync(join(layout, "oci-layout"))) writeAtomically(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  let written = 0;
  let reused = 0;
  let bytes = 0;
  const checkAborted = (): void => {
    if (options.signal?.aborted === true) throw new AbortedError(options.signal.reason);
  };
  for (const layer of image.layers) {
    checkAborted();
    if (layer.digest === undefined) throw new ImageError("STRATA_BAD_IMAGE", "a layer of the manifest has no digest");
    mkdirSync(join(layout, "blobs", parseDigest(layer.digest).algorithm), { recursive: true });
    if (hasBlob(layout, layer.digest, layer.size)) {
      reused++;
      continue;
    }
    bytes += await storeLayer(layout, { ...layer, digest: layer.digest }, options.onProgress, options.signal);
    written++;
  }
  checkAborted();
  for (const [descriptor, body] of [
    [configDescriptor, configBody],
    [manifest, manifestBody],
  ] as const) {
    if (hasBlob(layout, descriptor.digest, descriptor.size)) {
      reused++;
      continue;
    }
    writeAtomically(blobPath(layout, descriptor.digest), body);
    written++;
    bytes += body.length;
  }
  tagInIndex(layout, manifest, tag, manifest.platform);
  return { image, manifest, written, reused, bytes };
}
