import type { Transform } from "node:stream";
import { createGzip } from "node:zlib";
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

/**
 * A stream that compresses a tar as a layer: gzip at level 6 (what docker,
 * umoci and buildah write), zstd at its default level 3 through zstd-napi's
 * native binding. Both are deterministic (zstd runs without worker threads),
 * so the same tar gives the same blob digest.
 */
export function createLayerCompressor(compression: Exclude<LayerCompression, "none">): Transform {
  if (compression === "gzip") return createGzip({ level: 6 });
  let zstd: ZstdModule;
  try {
    zstd = requireFromLayer("zstd-napi") as ZstdModule;
  } catch (error) {
    throw new ImageError(
      "STRATA_NATIVE_UNAVAILABLE",
      `zstd compression needs the zstd-napi binding, which does ` +
        `not load: ${(error as Error).message}`,
      {
        hint:
          "use --compress gzip, or reinstall where zstd-napi can build (it is an optional " +
          "dependency)",
      },
    );
  }
  return new zstd.CompressStream();
}
