import { mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ImageError } from "@strata-oci/layer";
import {
  hasBlob,
  openImage,
  parseImageReference,
  prepareLayout,
  writeBlob,
  type Descriptor,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import { diffTrees } from "./diff.js";
import { outputLayout, sourceDateEpoch, writeImage, writeLayerBlob, type LayerCompression } from "./layout-output.js";
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
  readonly compress?: LayerCompression;
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
  const target = outputLayout(options.layout, "repack");
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
  const clampTime = sourceDateEpoch();
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
    const diff = diffTrees({ lower, upper: options.rootfs, ...(options.rootless === undefined ? {} : { rootless: options.rootless }), ...(clampTime === undefined ? {} : { clampTime }) });
    const { tarBytes, ...written } = await writeLayerBlob(target.path, diff, options.compress ?? "gzip");
    // Nothing changed: no layer, an empty step in the history.
    const changed = tarBytes > EMPTY_TAR;
    const created = clampTime !== undefined ? new Date(clampTime * 1000).toISOString() : new Date().toISOString();
    const raw = image.config.raw;
    const history = Array.isArray(raw.history) ? raw.history : [];
    const config = {
      ...raw,
      created,
      rootfs: { type: "layers", diff_ids: [...image.config.diffIds, ...(changed ? [written.diffId] : [])] },
      history: [...history, { created, created_by: options.createdBy ?? `strata repack ${options.rootfs}`, ...(changed ? {} : { empty_layer: true }) }],
    };
    const manifest = writeImage(target.path, tag, config, [...details.layers, ...(changed ? [written] : [])], image.config);
    return { layout: target.path, tag, manifest, layer: changed ? written : undefined };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
