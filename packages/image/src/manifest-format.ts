// A manifest in the other family: Docker schema 2 and OCI list the same
// config and layers under different media types, so a manifest converts
// without touching a blob (its digest changes, the blobs' do not). What one
// family cannot say is refused rather than dropped silently: zstd layers,
// subjects and artifact types have no Docker schema-2 form.
import { ImageError } from "@strata-oci/errors";
import type { Descriptor } from "./descriptor.js";
import {
  DOCKER_CONFIG,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_LAYER_OF,
  OCI_MANIFEST,
} from "./media-types.js";
import { digestOf } from "./registry/registry-http.js";

/** Manifest formats a copy can write (skopeo's --format names). */
export type ManifestFormat = "oci" | "v2s2";

const DOCKER_LAYER_OF: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(OCI_LAYER_OF)
    .filter(([docker]) => !docker.endsWith("zstd"))
    .map(([docker, oci]) => [oci, docker]),
);

/** A Docker schema-2 manifest as an OCI one: same config and layers, OCI media types. */
export function ociManifestOf(manifest: Buffer): Buffer {
  const json = JSON.parse(manifest.toString("utf8")) as Record<string, unknown>;
  const config = json.config as Record<string, unknown>;
  const layers = json.layers as Array<Record<string, unknown>>;
  const converted = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { ...config, mediaType: OCI_CONFIG },
    layers: layers.map((layer) => ({
      ...layer,
      mediaType: OCI_LAYER_OF[layer.mediaType as string] ?? layer.mediaType,
    })),
    ...(json.annotations === undefined ? {} : { annotations: json.annotations }),
  };
  return Buffer.from(JSON.stringify(converted));
}

function cannot(detail: string): ImageError {
  return new ImageError("STRATA_BAD_IMAGE", `no Docker schema-2 form: ${detail}`, {
    hint: "copy it as OCI (--format oci, the default for layouts), or convert the layers first",
  });
}

/** An OCI image manifest as a Docker schema-2 one; refused where something has no Docker form. */
export function dockerManifestOf(manifest: Buffer): Buffer {
  const json = JSON.parse(manifest.toString("utf8")) as Record<string, unknown>;
  const config = json.config as Record<string, unknown>;
  if (config.mediaType !== OCI_CONFIG) throw cannot(`the config is ${String(config.mediaType)}`);
  if (json.subject !== undefined || json.artifactType !== undefined)
    throw cannot("the manifest has a subject or an artifactType");
  const layers = (json.layers as Array<Record<string, unknown>>).map((layer) => {
    const mediaType = DOCKER_LAYER_OF[layer.mediaType as string];
    if (mediaType === undefined) throw cannot(`a layer is ${String(layer.mediaType)}`);
    // Docker schema 2 has no annotations.
    return {
      mediaType,
      size: layer.size,
      digest: layer.digest,
      ...(layer.urls === undefined ? {} : { urls: layer.urls }),
    };
  });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: DOCKER_CONFIG, size: config.size, digest: config.digest },
      layers,
    }),
  );
}

/**
 * The manifest in `format` (undefined: as it is), with the descriptor of the bytes to write.
 * Only image manifests of the other family are converted; anything else is kept.
 */
export function inFormat(
  descriptor: Descriptor,
  body: Buffer,
  format: ManifestFormat | undefined,
): { descriptor: Descriptor; body: Buffer } {
  const convert =
    format === "oci" && descriptor.mediaType === DOCKER_MANIFEST
      ? { mediaType: OCI_MANIFEST, body: ociManifestOf(body) }
      : format === "v2s2" && descriptor.mediaType === OCI_MANIFEST
        ? { mediaType: DOCKER_MANIFEST, body: dockerManifestOf(body) }
        : undefined;
  if (convert === undefined) return { descriptor, body };
  return {
    descriptor: {
      ...descriptor,
      mediaType: convert.mediaType,
      digest: digestOf(convert.body),
      size: convert.body.length,
    },
    body: convert.body,
  };
}
