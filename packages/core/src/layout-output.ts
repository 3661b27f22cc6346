// What squash, repack and pull share when they write an image into an OCI
// layout: the `oci:DIR[:TAG]` argument, SOURCE_DATE_EPOCH, the new layer
// blob (hashed as a tar, compressed, stored) and the config + manifest +
// tag written last.
import { createHash } from "node:crypto";
import { pipeline, Readable } from "node:stream";
import { createLayerCompressor, ImageError, LAYER_TYPE_OF, type LayerCompression } from "@strata-oci/layer";
import { OCI_CONFIG, OCI_MANIFEST, parseImageReference, putJsonBlob, tagInIndex, writeBlob, type Descriptor, type ImageConfig } from "@strata-oci/image";

export type { LayerCompression };

/** `oci:DIR[:TAG]` or DIR, split as unpack splits it (so that `unpack oci:DIR:TAG` finds what was written). */
export function outputLayout(layout: string, command: string): { path: string; tag: string | undefined } {
  const target = parseImageReference(layout.startsWith("oci:") ? layout : `oci:${layout}`);
  if (target.transport !== "oci") throw new ImageError("STRATA_BAD_REFERENCE", `${command} writes OCI layouts, not ${layout}`, { hint: "give oci:DIR[:TAG]" });
  return { path: target.path, tag: target.tag };
}

/** SOURCE_DATE_EPOCH in seconds, where it is set to one. */
export function sourceDateEpoch(): number | undefined {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch !== undefined && /^\d+$/.test(epoch) ? Number(epoch) : undefined;
}

export interface WrittenLayer {
  readonly digest: string;
  readonly size: number;
  readonly diffId: string;
  readonly mediaType: string;
  /** Bytes of the uncompressed tar. */
  readonly tarBytes: number;
}

/** Stores a tar stream as a layer blob of `layout`: its diff_id hashed on the way, compressed as asked. */
export async function writeLayerBlob(layout: string, tar: AsyncIterable<Buffer>, compression: LayerCompression): Promise<WrittenLayer> {
  const tarHash = createHash("sha256");
  let tarBytes = 0;
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of tar) {
      tarHash.update(chunk);
      tarBytes += chunk.length;
      yield chunk;
    }
  }
  let blob: AsyncIterable<Buffer> = hashed();
  if (compression !== "none") {
    const compressor = createLayerCompressor(compression);
    // pipeline, not pipe: a failure while making the tar must fail the blob, not leave it waiting.
    pipeline(Readable.from(blob, { objectMode: false }), compressor, () => {});
    blob = compressor;
  }
  const written = await writeBlob(layout, blob);
  return { ...written, diffId: `sha256:${tarHash.digest("hex")}`, mediaType: LAYER_TYPE_OF[compression], tarBytes };
}

/** Writes the config and an OCI manifest of `layers`, then tags it in index.json with the config's platform. */
export function writeImage(layout: string, tag: string, config: Record<string, unknown>, layers: ReadonlyArray<{ mediaType: string | undefined; digest: string; size: number }>, platformOf: ImageConfig): Descriptor {
  const configBlob = putJsonBlob(layout, config);
  const manifest = putJsonBlob(layout, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  });
  const descriptor: Descriptor = { mediaType: OCI_MANIFEST, digest: manifest.digest, size: manifest.size, annotations: {}, platform: undefined };
  const { os, architecture, variant } = platformOf;
  tagInIndex(layout, descriptor, tag, os === undefined || architecture === undefined ? undefined : { os, architecture, ...(variant === undefined ? {} : { variant }) });
  return descriptor;
}
