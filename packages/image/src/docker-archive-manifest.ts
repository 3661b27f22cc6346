// The manifest a docker-archive does not hold: docker save keeps the config
// and the layers, and manifest.json names them, but no registry manifest. A
// copy needs one (with each blob's digest, size and media type): it is made
// here, a Docker schema-2 manifest of the archive's own blobs, as skopeo
// makes one when it reads an archive; an OCI manifest where a layer is zstd
// (Docker schema 2 has no zstd layer type: a registry took one, and skopeo
// could then not read the manifest).
import { createHash } from "node:crypto";
import { closeSync, readSync } from "node:fs";
import { CHUNK_SIZE, sniffCompression } from "@strata-oci/layer";
import type { Descriptor } from "./descriptor.js";
import type { ManifestDetails } from "./image.js";
import { DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST } from "./media-types.js";
import { memberName, openArchive, type Member } from "./tar-index.js";

const DOCKER_LAYER_TYPE = {
  gzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  none: "application/vnd.docker.image.rootfs.diff.tar",
} as const;
const OCI_LAYER_TYPE = {
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  none: "application/vnd.oci.image.layer.v1.tar",
} as const;

/** `length` bytes of `file` from `start`, or the hash of them. */
function readRange(file: string, start: number, length: number, hash?: string): Buffer | string {
  const { fd } = openArchive(file);
  const digest = hash === undefined ? undefined : createHash(hash);
  const chunks: Buffer[] = [];
  try {
    for (let at = 0; at < length;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, length - at));
      const n = readSync(fd, chunk, 0, chunk.length, start + at);
      if (n === 0) break;
      if (digest === undefined) chunks.push(chunk.subarray(0, n));
      else digest.update(chunk.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return digest === undefined ? Buffer.concat(chunks) : `${hash}:${digest.digest("hex")}`;
}

/**
 * A layer member's descriptor: its digest from its name (blobs/sha256/HEX), else its diff_id when
 * it is an uncompressed tar (the same bytes), else hashed here.
 */
function layerDescriptor(
  file: string,
  member: Member,
  named: string | undefined,
  diffId: string | undefined,
): Descriptor & { compression: "gzip" | "zstd" | "none" } {
  const compression = sniffCompression(
    readRange(file, member.offset, Math.min(8, member.size)) as Buffer,
  );
  const digest =
    named ??
    (compression === "none" && diffId !== undefined
      ? diffId
      : (readRange(file, member.offset, member.size, "sha256") as string));
  return {
    mediaType: OCI_LAYER_TYPE[compression],
    compression,
    digest,
    size: member.size,
    annotations: {},
    platform: undefined,
  };
}

/** The details and documents of the Docker schema-2 manifest of an archive's image. */
export function archiveManifest(
  file: string,
  members: ReadonlyMap<string, Member>,
  config: { readonly digest: string; readonly data: Buffer },
  layers: ReadonlyArray<{ name: string; named: string | undefined; diffId: string | undefined }>,
): {
  details: ManifestDetails;
  documents: () => Promise<{ manifest: Buffer; config: Buffer }>;
} {
  const found = layers.map(({ name, named, diffId }) =>
    layerDescriptor(file, members.get(memberName(name)) as Member, named, diffId),
  );
  const oci = found.some((layer) => layer.compression === "zstd");
  const mediaType = oci ? OCI_MANIFEST : DOCKER_MANIFEST;
  const configDescriptor: Descriptor = {
    mediaType: oci ? OCI_CONFIG : DOCKER_CONFIG,
    digest: config.digest,
    size: config.data.length,
    annotations: {},
    platform: undefined,
  };
  const layerDescriptors: Descriptor[] = found.map(({ compression, ...layer }) => ({
    ...layer,
    mediaType: compression === "zstd" || oci ? layer.mediaType : DOCKER_LAYER_TYPE[compression],
  }));
  const plain = (d: Descriptor) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: plain(configDescriptor),
      layers: layerDescriptors.map(plain),
    }),
  );
  return {
    details: {
      mediaType,
      config: configDescriptor,
      layers: layerDescriptors,
      annotations: {},
      warnings: [],
    },
    documents: async () => ({ manifest, config: config.data }),
  };
}
