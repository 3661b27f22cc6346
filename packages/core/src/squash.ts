import { createHash } from "node:crypto";
import { createGzip } from "node:zlib";
import { pipeline, Readable } from "node:stream";
import { ImageError } from "@strata-oci/layer";
import { OCI_CONFIG, OCI_MANIFEST, parseImageReference, prepareLayout, putJsonBlob, tagInIndex, writeBlob, type Descriptor, type Platform, type RegistryOptions } from "@strata-oci/image";
import { exportImage } from "./export.js";
import { mergedTree } from "./merged.js";

export interface SquashOptions {
  readonly image: string;
  /** The OCI image layout to write into: `oci:DIR[:TAG]` or DIR (made when missing); tag default `squashed`. */
  readonly layout: string;
  readonly platform?: string | Platform;
  readonly registry?: RegistryOptions;
  /** The new layer's compression. Default gzip. */
  readonly compress?: "gzip" | "none";
  readonly signal?: AbortSignal;
}

export interface SquashResult {
  readonly layout: string;
  readonly tag: string;
  readonly manifest: Descriptor;
  readonly layer: { readonly digest: string; readonly size: number; readonly diffId: string; readonly mediaType: string };
  /** Layers of the source image folded into the one. */
  readonly squashed: number;
}

const LAYER_TYPES = { gzip: "application/vnd.oci.image.layer.v1.tar+gzip", none: "application/vnd.oci.image.layer.v1.tar" } as const;

/** Hashes what passes through (the diff_id of the tar). */
async function* hashing(chunks: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
}

/**
 * An image as a one-layer image in an OCI layout: the layer is `export`'s
 * tar (so unpacking it gives the same tree), gzipped unless asked otherwise;
 * the config is the image's with rootfs.diff_ids and history replaced (its
 * `created` kept, or SOURCE_DATE_EPOCH when set), so the same image gives the
 * same digests. Blobs are written first, index.json last, other tags kept.
 */
export async function squash(options: SquashOptions): Promise<SquashResult> {
  const target = parseImageReference(options.layout.startsWith("oci:") ? options.layout : `oci:${options.layout}`);
  if (target.transport !== "oci") throw new ImageError("STRATA_BAD_REFERENCE", `squash writes OCI layouts, not ${options.layout}`, { hint: "give oci:DIR[:TAG]" });
  const tag = target.tag ?? "squashed";
  const source = {
    image: options.image,
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  // Resolved first: a bad image fails before anything is written.
  const merged = await mergedTree(source);
  const { image } = merged;
  prepareLayout(target.path);
  const tarHash = createHash("sha256");
  const tar = hashing(exportImage(source, merged), tarHash);
  const compression = options.compress ?? "gzip";
  let blob: AsyncIterable<Buffer> = tar;
  if (compression === "gzip") {
    const gzip = createGzip({ level: 6 });
    // pipeline, not pipe: a failure while exporting must fail the blob, not leave it waiting.
    pipeline(Readable.from(tar, { objectMode: false }), gzip, () => {});
    blob = gzip;
  }
  const layer = await writeBlob(target.path, blob);
  const diffId = `sha256:${tarHash.digest("hex")}`;
  const raw = image.config.raw;
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const created = epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000).toISOString() : typeof raw.created === "string" ? raw.created : undefined;
  const config = putJsonBlob(target.path, {
    ...raw,
    ...(created === undefined ? {} : { created }),
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ ...(created === undefined ? {} : { created }), created_by: `strata squash ${image.reference}`, comment: `${image.layers.length} layers squashed into one` }],
  });
  const mediaType = LAYER_TYPES[compression];
  const manifest = putJsonBlob(target.path, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: [{ mediaType, digest: layer.digest, size: layer.size }],
  });
  const descriptor: Descriptor = { mediaType: OCI_MANIFEST, digest: manifest.digest, size: manifest.size, annotations: {}, platform: undefined };
  const { os, architecture, variant } = image.config;
  const platform = os === undefined || architecture === undefined ? undefined : { os, architecture, ...(variant === undefined ? {} : { variant }) };
  tagInIndex(target.path, descriptor, tag, platform);
  return { layout: target.path, tag, manifest: descriptor, layer: { ...layer, diffId, mediaType }, squashed: image.layers.length };
}
