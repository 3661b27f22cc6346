import type { Transform } from "node:stream";
import * as zlib from "node:zlib";
import { ImageError } from "@strata-oci/errors";
import { requireFromLayer } from "./native-addon.js";

/** How a layer strata writes is compressed. */
export type LayerCompression = "gzip" | "zstd" | "none";

/** The OCI media type of a layer with `compression`. */
export const LAYER_TYPE_OF: Record<LayerCompression, string> = {
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  none: "application/vnd.oci.image.layer.v1.tar",
};

interface ZstdModule {
  CompressStream: new () => Transform;
}

type ZstdCompressFactory = (
  options: zlib.ZlibOptions & { params?: Record<number, number> },
) => Transform;

/**
 * A stream that compresses a tar as a layer: gzip at level 6 (what docker,
 * umoci and buildah write), zstd at its default level 3 through zstd-napi
 * where the user installed it, else Node's own zlib where this Node has zstd
 * (22.15 and later). Both are deterministic (zstd runs without worker threads),
 * so the same tar gives the same blob digest.
 */
export function createLayerCompressor(compression: Exclude<LayerCompression, "none">): Transform {
  if (compression === "gzip") return zlib.createGzip({ level: 6 });
  let failure: string;
  try {
    return new (requireFromLayer("zstd-napi") as ZstdModule).CompressStream();
  } catch (error) {
    failure = (error as Error).message.split("\n")[0] ?? "";
  }
  const fromNode = (zlib as { createZstdCompress?: ZstdCompressFactory }).createZstdCompress;
  const level = (zlib.constants as Record<string, number>).ZSTD_c_compressionLevel;
  if (fromNode !== undefined && level !== undefined) return fromNode({ params: { [level]: 3 } });
  throw new ImageError(
    "STRATA_NATIVE_UNAVAILABLE",
    `zstd compression needs zstd-napi or a Node with zstd in zlib (22.15 or later); ` +
      `Node ${process.version} has none and zstd-napi does not load (${failure})`,
    { hint: "use --compress gzip, or npm install zstd-napi beside strata, or a newer Node" },
  );
}
