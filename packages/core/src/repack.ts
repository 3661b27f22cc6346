import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { ImageError } from "@strata-oci/layer";
import {
  hasBlob,
  OCI_CONFIG,
  OCI_MANIFEST,
  openImage,
  parseImageReference,
  prepareLayout,
  putJsonBlob,
  tagInIndex,
  writeBlob,
  type Descriptor,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import { diffTrees } from "./diff.js";
import { refuseArtifact, unpack } from "./unpack.js";

export interface RepackOptions {
  /** The image the rootfs was unpacked from: `oci:DIR[:TAG]` or `docker://...`. */
  readonly image: string;
  /** The changed root filesystem. */
  readonly rootfs: string;
  /** Where the new image goes: `oci:DIR[:TAG]` or DIR; tag default `repacked`. */
  readonly layout: string;
  readonly platform?: string | Platform;
  readonly registry?: RegistryOptions;
  /** The new layer's compression. Default gzip. */
  readonly compress?: "gzip" | "none";
  /** Owners from user.rootlesscontainers (default when not root), for the unpack of IMAGE and the diff alike. */
  readonly rootless?: boolean;
  /** The history entry's created_by. */
  readonly createdBy?: string;
  readonly signal?: AbortSignal;
}

export interface RepackResult {
  readonly layout: string;
  readonly tag: string;
  readonly manifest: Descriptor;
  /** The new layer; undefined when the rootfs had not changed (an empty history step is recorded instead). */
  readonly layer: { readonly digest: string; readonly size: number; readonly diffId: string; readonly mediaType: string } | undefined;
}

const LAYER_TYPES = { gzip: "application/vnd.oci.image.layer.v1.tar+gzip", none: "application/vnd.oci.image.layer.v1.tar" } as const;
const EMPTY_TAR = 1024;

/**
 * IMAGE plus one layer: the changeset from IMAGE's tree (unpacked into a
 * private directory) to ROOTFS, appended with its diff_id and a history
 * step; the base layers are copied into the layout where they are not there
 * yet, verified. Blobs first, index.json last, other tags kept. With
 * SOURCE_DATE_EPOCH set, entry times after it are clamped to it and the
 * config's times are it: the same change gives the same digests.
 */
export async function repack(options: RepackOptions): Promise<RepackResult> {
  const target = parseImageReference(options.layout.startsWith("oci:") ? options.layout : `oci:${options.layout}`);
  if (target.transport !== "oci") throw new ImageError("STRATA_BAD_REFERENCE", `repack writes OCI layouts, not ${options.layout}`, { hint: "give oci:DIR[:TAG]" });
  const source = parseImageReference(options.image);
  if (source.transport === "docker-archive") {
    throw new ImageError("STRATA_BAD_REFERENCE", "repack needs an OCI layout or registry image as its base (docker-archive layers carry no descriptors)", {
      hint: "copy it into a layout first: skopeo copy docker-archive:FILE oci:DIR:TAG",
    });
  }
  const tag = target.tag ?? "repacked";
  const open = {
    image: options.image,
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  };
  const image = await openImage(open);
  refuseArtifact(image);
  const details = image.details;
  if (details === undefined) throw new Error("unreachable: oci and docker images have manifests");
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const clampTime = epoch !== undefined && /^\d+$/.test(epoch) ? Number(epoch) : undefined;
  // Beside ROOTFS: the same filesystem as the tree it is compared with (the
  // system's /tmp was a slower disk here: 11.7 s instead of 3.1 s for Debian).
  const scratch = mkdtempSync(join(dirname(resolve(options.rootfs)), ".strata-repack-"));
  try {
    const lower = join(scratch, "rootfs");
    await unpack({ ...open, dest: lower, ...(options.rootless === undefined ? {} : { rootless: options.rootless }), ...(options.signal === undefined ? {} : { signal: options.signal }) });
    prepareLayout(target.path);
    // The base layers, where the layout lacks them (another layout, a registry).
    for (const [index, layer] of image.layers.entries()) {
      const descriptor = details.layers[index] as Descriptor;
      if (hasBlob(target.path, descriptor.digest, descriptor.size)) continue;
      await writeBlob(target.path, (await layer.open()) as AsyncIterable<Buffer>, { digest: descriptor.digest, size: descriptor.size, context: { image: image.reference, layer: descriptor.digest } });
    }
    const tarHash = createHash("sha256");
    let tarBytes = 0;
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const chunk of diffTrees({ lower, upper: options.rootfs, ...(options.rootless === undefined ? {} : { rootless: options.rootless }), ...(clampTime === undefined ? {} : { clampTime }) })) {
        tarHash.update(chunk);
        tarBytes += chunk.length;
        yield chunk;
      }
    }
    const compression = options.compress ?? "gzip";
    let blob: AsyncIterable<Buffer> = hashed();
    if (compression === "gzip") {
      const gzip = createGzip({ level: 6 });
      pipeline(Readable.from(blob, { objectMode: false }), gzip, () => {});
      blob = gzip;
    }
    const written = await writeBlob(target.path, blob);
    const diffId = `sha256:${tarHash.digest("hex")}`;
    // Nothing changed: no layer, an empty step in the history.
    const changed = tarBytes > EMPTY_TAR;
    const created = clampTime !== undefined ? new Date(clampTime * 1000).toISOString() : new Date().toISOString();
    const raw = image.config.raw;
    const history = Array.isArray(raw.history) ? raw.history : [];
    const config = putJsonBlob(target.path, {
      ...raw,
      created,
      rootfs: { type: "layers", diff_ids: [...image.config.diffIds, ...(changed ? [diffId] : [])] },
      history: [...history, { created, created_by: options.createdBy ?? `strata repack ${options.rootfs}`, ...(changed ? {} : { empty_layer: true }) }],
    });
    const mediaType = LAYER_TYPES[compression];
    const layers = [...details.layers.map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size })), ...(changed ? [{ mediaType, digest: written.digest, size: written.size }] : [])];
    const manifest = putJsonBlob(target.path, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size }, layers });
    const descriptor: Descriptor = { mediaType: OCI_MANIFEST, digest: manifest.digest, size: manifest.size, annotations: {}, platform: undefined };
    const { os, architecture, variant } = image.config;
    tagInIndex(target.path, descriptor, tag, os === undefined || architecture === undefined ? undefined : { os, architecture, ...(variant === undefined ? {} : { variant }) });
    return { layout: target.path, tag, manifest: descriptor, layer: changed ? { ...written, diffId, mediaType } : undefined };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
