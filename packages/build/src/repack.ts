import { existsSync, lstatSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ImageError, TargetError } from "@strata-oci/errors";
import {
  copyLayers,
  destinationReference,
  type Descriptor,
  type Image,
  type ImageConfig,
  type BlobCounts,
  type ImageDestination,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import { diffTrees, type DiffProgress } from "./diff.js";
import {
  checkedEpoch,
  outputDestination,
  writeImage,
  writeLayerBlob,
  type LayerCompression,
} from "./image-output.js";
import {
  chainIdOf,
  imageRequest,
  openContainerImage,
  readTreeRecord,
  saveTreeRecord,
  checkRecordWritable,
  TreeRecord,
  unpack,
  type UnpackProgress,
} from "@strata-oci/core";

export interface RepackOptions {
  /** The image the rootfs was unpacked from: `oci:DIR[:TAG]` or `docker://...`. */
  readonly image: string;
  /** The changed root filesystem. */
  readonly rootfs: string;
  /**
   * Where the new image goes: `oci:DIR[:TAG]` or DIR (a layout), `oci-archive:`,
   * `docker-archive:`, `docker://`, or an ImageDestination of the caller's own; tag default
   * `repacked` where the transport tags.
   */
  readonly destination: string | ImageDestination;
  readonly platform?: string | Platform | undefined;
  readonly registry?: RegistryOptions | undefined;
  /** The new layer's compression. Default gzip. */
  readonly compress?: LayerCompression | undefined;
  /**
   * Owners from user.rootlesscontainers (default when not root), for the unpack of IMAGE and the
   * diff alike.
   */
  readonly rootless?: boolean | undefined;
  /** The history entry's created_by. */
  readonly createdBy?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Seconds since 1970 (reproducible builds; the command passes SOURCE_DATE_EPOCH): entry times
   * after it are clamped to it, and the config's times are it.
   */
  readonly sourceDateEpoch?: number | undefined;
  /** The base image's unpack (without a record), then the diff's walk of ROOTFS. */
  readonly onProgress?: ((event: RepackProgress) => void) | undefined;
  /**
   * The record `unpack` kept of ROOTFS (its `record` option): the diff then
   * reads only ROOTFS, and only the files whose inode or ctime changed,
   * instead of unpacking IMAGE again to compare. Rewritten on success as the
   * record of the new image, for the next repack.
   */
  readonly record?: string | undefined;
}

/** What repack reports: the unpack of the base image (when it has no record), then the diff. */
export type RepackProgress = UnpackProgress | DiffProgress;

export interface RepackResult {
  /** The base image. */
  readonly image: Image;
  /** Where it went, as messages name it (`oci:DIR:TAG`). */
  readonly destination: string;
  readonly manifest: Descriptor;
  /**
   * The new layer; undefined when the rootfs had not changed (an empty history step is recorded
   * instead).
   */
  readonly layer:
    | {
        readonly digest: string;
        readonly size: number;
        readonly diffId: string;
        readonly mediaType: string;
      }
    | undefined;
  /** How the base's layers reached the destination: sent, there already, mounted; bytes sent. */
  readonly baseLayers: BlobCounts;
}

const EMPTY_TAR = 1024;

/**
 * IMAGE plus one layer: the changeset from IMAGE's tree (its record, or
 * else IMAGE unpacked into a private directory) to ROOTFS, appended with
 * its diff_id and a history step; the base layers are copied into the
 * layout where they are not there yet, verified. Blobs first, index.json last, other tags kept.
 * With
 * `sourceDateEpoch`, entry times after it are clamped to it and the
 * config's times are it: the same change gives the same digests.
 */
export async function repack(options: RepackOptions): Promise<RepackResult> {
  if (typeof options.destination === "string")
    for (const file of destinationReference(options.destination, true).files)
      refuseLayoutInside(file, options.rootfs);
  const destination = outputDestination(options.destination, "repacked", options);
  try {
    return await repackInto(destination, options);
  } catch (error) {
    destination.abandon?.();
    throw error;
  }
}

async function repackInto(
  destination: ImageDestination,
  options: RepackOptions,
): Promise<RepackResult> {
  const open = imageRequest(options);
  const image = await openContainerImage(options);
  const details = image.details;
  if (details === undefined) throw noDescriptors(image.source.format());
  const clampTime = checkedEpoch(options.sourceDateEpoch);
  const record =
    options.record === undefined
      ? undefined
      : matchingRecord(options.record, options.rootfs, image.config.diffIds, image.reference);
  // The record is written again at the end, after the new image: it must be writable now.
  if (options.record !== undefined) checkRecordWritable(options.record);
  // Without a record: IMAGE unpacked beside ROOTFS, the same filesystem as
  // the tree it is compared with (the system's /tmp was a slower disk here:
  // 11.7 s instead of 3.1 s for Debian).
  const scratch =
    record === undefined
      ? mkdtempSync(join(dirname(resolve(options.rootfs)), ".strata-repack-"))
      : undefined;
  try {
    let lower: string | TreeRecord;
    if (scratch === undefined) lower = record as TreeRecord;
    else {
      lower = join(scratch, "rootfs");
      await unpack({
        ...open,
        dest: lower,
        ...(options.rootless === undefined ? {} : { rootless: options.rootless }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      });
    }
    // The base layers, where the destination lacks them (another layout, a registry), verified.
    const baseLayers: BlobCounts = { sent: 0, present: 0, mounted: 0, bytes: 0 };
    await copyLayers(destination, image, { signal: options.signal }, baseLayers);
    // What ROOTFS is now (the same root as the record's, checked): the record of the new image,
    // once it is written.
    const next = record === undefined ? undefined : new TreeRecord("", record.dev, record.ino);
    const diff = diffTrees({
      lower,
      upper: options.rootfs,
      ...(options.rootless === undefined ? {} : { rootless: options.rootless }),
      ...(clampTime === undefined ? {} : { clampTime }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(next === undefined ? {} : { onUpperEntry: (path, stats) => next.addStats(path, stats) }),
    });
    const { tarBytes, ...written } = await writeLayerBlob(
      destination,
      diff,
      options.compress ?? "gzip",
    );
    // Nothing changed: no layer, an empty step in the history.
    const changed = tarBytes > EMPTY_TAR;
    const config = repackedConfig(image.config, changed ? written.diffId : undefined, {
      clampTime,
      createdBy: options.createdBy ?? `strata repack ${options.rootfs}`,
    });
    const manifest = await writeImage(
      destination,
      config,
      [...details.layers, ...(changed ? [written] : [])],
      image.config,
    );
    if (next !== undefined && options.record !== undefined)
      saveTreeRecord(next, options.record, chainIdOf(config.rootfs.diff_ids));
    return {
      image,
      destination: destination.name,
      manifest,
      layer: changed ? written : undefined,
      baseLayers,
    };
  } finally {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  }
}

/** A base read without a manifest (docker-archive) has no layer descriptors to list. */
function noDescriptors(image: string): ImageError {
  return new ImageError(
    "STRATA_BAD_REFERENCE",
    `repack needs a base whose manifest lists its layers, and ${image} has none ` +
      "(docker-archive layers carry no descriptors)",
    { hint: "copy it into a layout first: skopeo copy docker-archive:FILE oci:DIR:TAG" },
  );
}

/** The base's config with the new layer's diff_id (if any) and its history step. */
function repackedConfig(
  base: ImageConfig,
  diffId: string | undefined,
  step: { readonly clampTime: number | undefined; readonly createdBy: string },
): Record<string, unknown> & { rootfs: { type: string; diff_ids: string[] } } {
  const created =
    step.clampTime !== undefined
      ? new Date(step.clampTime * 1000).toISOString()
      : new Date().toISOString();
  const history = Array.isArray(base.raw.history) ? base.raw.history : [];
  return {
    ...base.raw,
    created,
    rootfs: {
      type: "layers",
      diff_ids: [...base.diffIds, ...(diffId === undefined ? [] : [diffId])],
    },
    history: [
      ...history,
      {
        created,
        created_by: step.createdBy,
        ...(diffId === undefined ? { empty_layer: true } : {}),
      },
    ],
  };
}

/** A layout inside ROOTFS would be diffed into the layer it is being written for. */
function refuseLayoutInside(layout: string, rootfs: string): void {
  const root = existsSync(rootfs) ? realpathSync(rootfs) : resolve(rootfs);
  let at = resolve(layout);
  // The layout's nearest existing ancestor, by the kernel's name for it.
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const planned = join(realpathSync(at), relative(at, resolve(layout)));
  if (planned === root || planned.startsWith(`${root}/`)) {
    throw new TargetError(
      "STRATA_BAD_DESTINATION",
      `the layout ${layout} lies inside ROOTFS ${rootfs}`,
      { hint: "write the new image outside the tree it is made from" },
    );
  }
}

/**
 * The record at `file`, refused unless it is of IMAGE's tree and of ROOTFS itself (not a copy made
 * elsewhere).
 */
function matchingRecord(
  file: string,
  rootfs: string,
  diffIds: readonly string[],
  image: string,
): TreeRecord {
  const record = readTreeRecord(file);
  const chainId = chainIdOf(diffIds);
  if (record.chainId !== chainId) {
    throw new TargetError(
      "STRATA_RECORD_MISMATCH",
      `${file} records the tree of layers ${record.chainId}, and ${image} is ${chainId}`,
      {
        hint:
          "give the record written when this image was unpacked, or repack without " +
          "--record (strata then unpacks IMAGE to compare)",
      },
    );
  }
  const root = lstatSync(rootfs, { bigint: true, throwIfNoEntry: false });
  if (root === undefined || !root.isDirectory())
    throw new TargetError("STRATA_PATH_NOT_FOUND", `${rootfs} is not a directory`, {
      hint: "give the unpacked, changed root filesystem",
    });
  if (root.dev !== record.dev || root.ino !== record.ino) {
    throw new TargetError(
      "STRATA_RECORD_MISMATCH",
      `${file} records another directory than ${rootfs} (device or inode of its root differ: ` +
        `copied, or unpacked again?)`,
      {
        hint: "repack the directory the record was written for, or repack without --record",
      },
    );
  }
  return record;
}
