import { createHash } from "node:crypto";
import { closeSync, createReadStream } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  CHUNK_SIZE,
  DigestMismatchError,
  LimitExceededError,
  openImageFile,
  parseDigest,
  readImageFile,
  SizeMismatchError,
  type BlobFile,
  type Layer,
} from "@strata-oci/layer";
import { ImageError, StrataError } from "@strata-oci/errors";
import { asRecord, bad, parseJson, type Descriptor } from "./descriptor.js";
import { emptyImageConfig, parseImageConfig } from "./image-config.js";
import type { Referrer, SourceImage } from "./image.js";
import { INDEX_TYPES, MANIFEST_TYPES } from "./media-types.js";
import {
  choicesOf,
  indexLevel,
  kindOf,
  manifestDetails,
  pickPlatform,
  MAX_INDEX_DEPTH,
  pickTopLevel,
  type OpenImageOptions,
} from "./manifest-walk.js";

/** JSON blobs (indexes, manifests, configs) larger than this are refused: they are read whole. */
export const MAX_JSON_BLOB = 16 * 2 ** 20;

/** Where a layout keeps the blob `digest`: blobs/ALGORITHM/HEX. */
export function blobPath(root: string, digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return join(root, "blobs", algorithm, hex);
}

function missingBlob(digest: string, cause?: unknown): ImageError {
  return new ImageError("STRATA_BLOB_NOT_FOUND", `blob ${digest} is missing from the layout`, {
    cause,
    hint: "the image layout is incomplete; copy it again",
  });
}

/** Reads a small blob (manifest, index, config) whole and checks its size and digest. */
function readSmallBlob(root: string, descriptor: Descriptor, what: string): Buffer {
  if (descriptor.size > MAX_JSON_BLOB)
    throw bad(
      `${what} ${descriptor.digest} of ${descriptor.size} bytes is too large for a manifest ` +
        `or config`,
    );
  let data: Buffer;
  try {
    // One byte past the descriptor's size is enough to tell a longer blob.
    data = readImageFile(blobPath(root, descriptor.digest), descriptor.size + 1);
  } catch (cause) {
    if (cause instanceof LimitExceededError)
      throw new SizeMismatchError(descriptor.size, cause.value, {
        blob: `${what} ${descriptor.digest}`,
      });
    if (cause instanceof StrataError) throw cause;
    throw missingBlob(descriptor.digest, cause);
  }
  if (data.length !== descriptor.size)
    throw new SizeMismatchError(descriptor.size, data.length, {
      blob: `${what} ${descriptor.digest}`,
    });
  const { algorithm, hex } = parseDigest(descriptor.digest);
  const actual = createHash(algorithm).update(data).digest("hex");
  if (actual !== hex)
    throw new DigestMismatchError(descriptor.digest, `${algorithm}:${actual}`, what, {
      blob: `${what} ${descriptor.digest}`,
    });
  return data;
}

function readJsonBlob(root: string, descriptor: Descriptor): unknown {
  return parseJson(readSmallBlob(root, descriptor, "manifest"), `blob ${descriptor.digest}`);
}

function openBlob(path: string, digest: string): number {
  try {
    return openImageFile(path).fd;
  } catch (cause) {
    if (cause instanceof StrataError) throw cause;
    throw missingBlob(digest, cause);
  }
}

/** Reads `oci-layout` or `index.json`: missing is named as such, unreadable as unreadable. */
function readLayoutFile(root: string, name: string): Buffer | undefined {
  try {
    return readImageFile(join(root, name), MAX_JSON_BLOB);
  } catch (cause) {
    if (cause instanceof StrataError) throw cause;
    return undefined;
  }
}

function layerFrom(root: string, descriptor: Descriptor, diffId: string | undefined): Layer {
  const path = blobPath(root, descriptor.digest);
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    mediaType: descriptor.mediaType,
    diffId,
    open: async (): Promise<Readable> =>
      createReadStream("", { fd: openBlob(path, descriptor.digest), highWaterMark: CHUNK_SIZE }),
    locate: async (): Promise<BlobFile> => {
      // Opened once here so that a missing blob is named as missing (the worker only sees ENOENT).
      closeSync(openBlob(path, descriptor.digest));
      return { path, start: 0, end: undefined };
    },
  };
}

/** Opens an OCI image layout and resolves one image in it down to its layers. */
export function openOciLayout(
  root: string,
  reference: string,
  options: OpenImageOptions,
): SourceImage {
  const layoutData = readLayoutFile(root, "oci-layout");
  if (layoutData === undefined) {
    throw new ImageError(
      "STRATA_BAD_IMAGE",
      `${root} is not an OCI image layout (no oci-layout file)`,
      {
        hint: "give an OCI image layout directory (skopeo copy ... oci:DIR:TAG makes one)",
      },
    );
  }
  const layoutFile = parseJson(layoutData, "oci-layout");
  const version = asRecord(layoutFile, "oci-layout").imageLayoutVersion;
  if (typeof version !== "string" || !version.startsWith("1."))
    throw bad(`unsupported imageLayoutVersion ${JSON.stringify(version)}`);
  const indexData = readLayoutFile(root, "index.json");
  if (indexData === undefined)
    throw new ImageError("STRATA_BAD_IMAGE", `${root} has no index.json`, {
      hint: "the image layout is incomplete; copy it again",
    });
  const index = asRecord(parseJson(indexData, "index.json"), "index.json");
  kindOf(undefined, index, "index.json");
  const indexes = [
    indexLevel(
      index,
      "index.json",
      typeof index.mediaType === "string" ? index.mediaType : undefined,
    ),
  ];
  const choices = choicesOf(indexes[0]?.manifests ?? []);
  let descriptor = pickTopLevel(choices, options, reference);
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) throw bad("image indexes nested too deeply");
    const json = asRecord(readJsonBlob(root, descriptor), `blob ${descriptor.digest}`);
    const what = `manifest ${descriptor.digest}`;
    if (kindOf(descriptor.mediaType, json, what) === "index") {
      const level = indexLevel(json, descriptor.digest, descriptor.mediaType);
      indexes.push(level);
      descriptor = pickPlatform(level.manifests, options.platform, reference);
      continue;
    }
    const details = manifestDetails(json, descriptor, what);
    // An artifact's config is not an image config: nothing to parse, nothing to unpack.
    const config =
      details.artifact !== undefined
        ? emptyImageConfig()
        : parseImageConfig(readSmallBlob(root, details.config, "config"), details.layers.length);
    return {
      reference,
      transport: "oci",
      choices,
      manifest: descriptor,
      configDigest: details.config.digest,
      config,
      layers: details.layers.map((d, i) => layerFrom(root, d, config.diffIds[i])),
      indexes,
      details,
      documents: async () => ({
        manifest: readSmallBlob(root, descriptor, "manifest"),
        config: readSmallBlob(root, details.config, "config"),
      }),
    };
  }
}

/**
 * The manifests and indexes reachable from index.json whose `subject` is one
 * of `subjects` (referrers, as the distribution-spec's referrers API lists
 * them: artifactType, else the config's media type).
 */
export function layoutReferrers(
  root: string,
  subjects: ReadonlySet<string>,
): { referrers: Referrer[]; skipped: string[] } {
  const indexData = readLayoutFile(root, "index.json");
  if (indexData === undefined)
    throw new ImageError("STRATA_BAD_IMAGE", `${root} has no index.json`, {
      hint: "the image layout is incomplete; copy it again",
    });
  const found: Referrer[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  const visit = (descriptors: readonly Descriptor[], depth: number): void => {
    for (const descriptor of descriptors) {
      if (
        seen.has(descriptor.digest) ||
        !(
          INDEX_TYPES.has(descriptor.mediaType ?? "") ||
          MANIFEST_TYPES.has(descriptor.mediaType ?? "")
        )
      )
        continue;
      seen.add(descriptor.digest);
      // Another image's document that breaks a rule says nothing about this one's referrers:
      // skipped, and said.
      try {
        if (depth > MAX_INDEX_DEPTH) throw bad("image indexes nested too deeply");
        look(descriptor, depth);
      } catch (error) {
        if (!(error instanceof StrataError)) throw error;
        skipped.push(`${descriptor.digest}: ${error.detail}`);
      }
    }
  };
  const look = (descriptor: Descriptor, depth: number): void => {
    const json = asRecord(readJsonBlob(root, descriptor), `blob ${descriptor.digest}`);
    const what = `manifest ${descriptor.digest}`;
    const kind = kindOf(descriptor.mediaType, json, what);
    const level =
      kind === "index" ? indexLevel(json, descriptor.digest, descriptor.mediaType) : undefined;
    const details = kind === "manifest" ? manifestDetails(json, descriptor, what) : undefined;
    const subject = level?.subject ?? details?.subject;
    if (subject !== undefined && subjects.has(subject.digest)) {
      const artifactType =
        level?.artifactType ?? details?.artifactType ?? details?.config.mediaType;
      found.push({
        subject: subject.digest,
        descriptor: {
          ...descriptor,
          annotations: level?.annotations ?? details?.annotations ?? {},
          ...(artifactType === undefined ? {} : { artifactType }),
        },
      });
    }
    if (level !== undefined) visit(level.manifests, depth + 1);
  };
  const index = asRecord(parseJson(indexData, "index.json"), "index.json");
  kindOf(undefined, index, "index.json");
  visit(indexLevel(index, "index.json", undefined).manifests, 0);
  return { referrers: found, skipped };
}
