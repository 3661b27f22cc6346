import { MediaTypeError } from "@strata-oci/errors";

/** How a layer blob is compressed. */
export type Compression = "none" | "gzip" | "zstd";

const LAYER_MEDIA_TYPES: ReadonlyMap<string, Compression> = new Map([
  ["application/vnd.oci.image.layer.v1.tar", "none"],
  ["application/vnd.oci.image.layer.v1.tar+gzip", "gzip"],
  ["application/vnd.oci.image.layer.v1.tar+zstd", "zstd"],
  ["application/vnd.oci.image.layer.nondistributable.v1.tar", "none"],
  ["application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "gzip"],
  ["application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", "zstd"],
  ["application/vnd.docker.image.rootfs.diff.tar", "none"],
  ["application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"],
  ["application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "gzip"],
  ["application/vnd.docker.image.rootfs.diff.tar.zstd", "zstd"],
]);

/** Every layer media type strata reads. */
export const LAYER_MEDIA_TYPE_NAMES: readonly string[] = [...LAYER_MEDIA_TYPES.keys()];

/**
 * The compression a layer media type declares; `undefined` media type means
 * "unknown, sniff the bytes" (docker-archive layers carry none).
 */
export function compressionOf(mediaType: string | undefined): Compression | "sniff" {
  if (mediaType === undefined) return "sniff";
  const compression = LAYER_MEDIA_TYPES.get(mediaType);
  if (compression === undefined) {
    throw new MediaTypeError(
      "STRATA_UNSUPPORTED_MEDIA_TYPE",
      `unsupported layer media type ${JSON.stringify(mediaType)}`,
      {
        hint: `strata reads ${LAYER_MEDIA_TYPE_NAMES.join(", ")}`,
      },
    );
  }
  return compression;
}

/** The compression the first bytes of a blob show (tar is anything else). */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  // A zstd stream may start with a skippable frame (magic 0x184D2A50-5F), as seekable zstd does.
  if (head.length >= 4 && (head.readUInt32LE(0) & 0xfffffff0) === 0x184d2a50) return "zstd";
  return "none";
}
