import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Compression } from "@strata-oci/layer";
import { OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, REF_NAME_ANNOTATION } from "./media-types.js";

/** One layer to write: its uncompressed tar and how to store it. */
export interface LayerSpec {
  readonly tar: Buffer;
  /** Default gzip. zstd needs a compressor: pass `compress`. */
  readonly compression?: Compression;
  /** Compresses `tar` for zstd (or overrides gzip). */
  readonly compress?: (tar: Buffer) => Buffer;
  /**
   * Written as the layer's media type instead of the one `compression` implies (for broken-image
   * tests).
   */
  readonly mediaType?: string;
}

export interface LayoutSpec {
  readonly layers: readonly LayerSpec[];
  /** `config` of the image config (User, Env, Cmd, ...). */
  readonly runtime?: Readonly<Record<string, unknown>>;
  readonly tag?: string;
  readonly architecture?: string;
  readonly os?: string;
  /** Replaces parts of the image config (for broken-image tests). */
  readonly configOverrides?: Readonly<Record<string, unknown>>;
}

const MEDIA: Record<Compression, string> = {
  none: "application/vnd.oci.image.layer.v1.tar",
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
};

function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function putBlob(dir: string, data: Buffer): { digest: string; size: number } {
  const digest = sha256(data);
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(dir, "blobs", "sha256", digest.slice(7)), data);
  return { digest, size: data.length };
}

/**
 * Writes a small OCI image layout from in-memory layers: for tests, fixtures
 * and examples. Deterministic: the same spec gives the same bytes.
 */
export function writeOciLayout(
  dir: string,
  spec: LayoutSpec,
): { manifestDigest: string; layerDigests: string[] } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const layers = spec.layers.map((layer) => {
    const compression = layer.compression ?? "gzip";
    const blob =
      layer.compress !== undefined
        ? layer.compress(layer.tar)
        : compression === "gzip"
          ? gzipSync(layer.tar, { level: 6 })
          : layer.tar;
    if (compression === "zstd" && layer.compress === undefined)
      throw new Error("zstd layers need a compress function");
    return {
      ...putBlob(dir, blob),
      mediaType: layer.mediaType ?? MEDIA[compression],
      diffId: sha256(layer.tar),
    };
  });
  const config = {
    architecture: spec.architecture ?? "amd64",
    os: spec.os ?? "linux",
    config: spec.runtime ?? {},
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created_by: "strata writeOciLayout" })),
    ...spec.configOverrides,
  };
  const configBlob = putBlob(dir, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, ...configBlob },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBlob = putBlob(dir, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      {
        mediaType: OCI_MANIFEST,
        ...manifestBlob,
        ...(spec.tag === undefined ? {} : { annotations: { [REF_NAME_ANNOTATION]: spec.tag } }),
      },
    ],
  };
  writeFileSync(join(dir, "index.json"), JSON.stringify(index));
  return { manifestDigest: manifestBlob.digest, layerDigests: layers.map((l) => l.digest) };
}
