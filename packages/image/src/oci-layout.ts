import { createHash } from "node:crypto";
import { closeSync, createReadStream } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  CHUNK_SIZE,
  DigestMismatchError,
  ImageError,
  LimitExceededError,
  openImageFile,
  parseDigest,
  readImageFile,
  SizeMismatchError,
  StrataError,
  type BlobFile,
  type Layer,
} from "@strata-oci/layer";
import { asRecord, bad, parseDescriptor, parseJson, type Descriptor } from "./descriptor.js";
import { parseImageConfig } from "./image-config.js";
import type { Image, ManifestChoice } from "./image.js";
import { INDEX_TYPES, MANIFEST_TYPES, REF_NAME_ANNOTATION } from "./media-types.js";
import { formatPlatform, platformMatches, type Platform } from "./platform.js";

/** JSON blobs (indexes, manifests, configs) larger than this are refused: they are read whole. */
export const MAX_JSON_BLOB = 16 * 2 ** 20;
const MAX_INDEX_DEPTH = 8;

export interface OpenImageOptions {
  /** Platform to pick from an index; default the host's. */
  readonly platform: Platform;
  /** `org.opencontainers.image.ref.name` to pick; default: the only manifest. */
  readonly tag: string | undefined;
}

function blobPath(root: string, digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return join(root, "blobs", algorithm, hex);
}

function missingBlob(digest: string, cause?: unknown): ImageError {
  return new ImageError("STRATA_BLOB_NOT_FOUND", `blob ${digest} is missing from the layout`, { cause, hint: "the image layout is incomplete; copy it again" });
}

/** Reads a small blob (manifest, index, config) whole and checks its size and digest. */
function readSmallBlob(root: string, descriptor: Descriptor, what: string): Buffer {
  if (descriptor.size > MAX_JSON_BLOB) throw bad(`${what} ${descriptor.digest} of ${descriptor.size} bytes is too large for a manifest or config`);
  let data: Buffer;
  try {
    // One byte past the descriptor's size is enough to tell a longer blob.
    data = readImageFile(blobPath(root, descriptor.digest), descriptor.size + 1);
  } catch (cause) {
    if (cause instanceof LimitExceededError) throw new SizeMismatchError(descriptor.size, cause.value, { blob: `${what} ${descriptor.digest}` });
    if (cause instanceof StrataError) throw cause;
    throw missingBlob(descriptor.digest, cause);
  }
  if (data.length !== descriptor.size) throw new SizeMismatchError(descriptor.size, data.length, { blob: `${what} ${descriptor.digest}` });
  const { algorithm, hex } = parseDigest(descriptor.digest);
  const actual = createHash(algorithm).update(data).digest("hex");
  if (actual !== hex) throw new DigestMismatchError(descriptor.digest, `${algorithm}:${actual}`, what, { blob: `${what} ${descriptor.digest}` });
  return data;
}

function readJsonBlob(root: string, descriptor: Descriptor): unknown {
  return parseJson(readSmallBlob(root, descriptor, "manifest"), `blob ${descriptor.digest}`);
}

function descriptorList(value: unknown, what: string): Descriptor[] {
  if (!Array.isArray(value)) throw bad(`${what} is not a list`);
  return value.map((d, i) => parseDescriptor(d, `${what}[${i}]`));
}

function kindOf(mediaType: string | undefined, json: Record<string, unknown>): "index" | "manifest" {
  if (mediaType !== undefined && INDEX_TYPES.has(mediaType)) return "index";
  if (mediaType !== undefined && MANIFEST_TYPES.has(mediaType)) return "manifest";
  if (mediaType !== undefined) throw new ImageError("STRATA_BAD_IMAGE", `unsupported manifest media type ${JSON.stringify(mediaType)}`);
  // Manifests may omit mediaType: tell them apart by shape.
  if (Array.isArray(json.manifests)) return "index";
  if (json.config !== undefined && Array.isArray(json.layers)) return "manifest";
  throw bad("blob is neither an image index nor a manifest");
}

function choicesOf(manifests: readonly Descriptor[]): ManifestChoice[] {
  return manifests.map((descriptor) => ({ descriptor, tag: descriptor.annotations[REF_NAME_ANNOTATION], platform: descriptor.platform }));
}

function describeChoices(choices: readonly ManifestChoice[]): string {
  return choices
    .map((c) => `${c.tag ?? "(untagged)"} ${c.descriptor.digest.slice(0, 19)}${c.platform === undefined ? "" : ` ${formatPlatform(c.platform)}`}`)
    .join(", ");
}

/** Picks the top-level entry: by tag, or the only one, or by platform when entries differ only by platform. */
function pickTopLevel(choices: readonly ManifestChoice[], options: OpenImageOptions, reference: string): Descriptor {
  if (options.tag !== undefined) {
    const tagged = choices.filter((c) => c.tag === options.tag);
    const match = tagged[0];
    // One tag on several manifests (one per platform): the platform decides, never the order.
    if (tagged.length > 1) return pickPlatform(tagged.map((c) => c.descriptor), options.platform, reference);
    if (match === undefined) {
      throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `no manifest tagged ${JSON.stringify(options.tag)} in ${reference}`, {
        hint: `available: ${describeChoices(choices) || "none"}`,
      });
    }
    return match.descriptor;
  }
  const only = choices[0];
  if (choices.length === 1 && only !== undefined) return only.descriptor;
  if (choices.length === 0) throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `index of ${reference} lists no manifests`);
  const tags = new Set(choices.map((c) => c.tag));
  if (tags.size === 1 && choices.every((c) => c.platform !== undefined)) return pickPlatform(choices.map((c) => c.descriptor), options.platform, reference);
  throw new ImageError("STRATA_AMBIGUOUS_MANIFEST", `${reference} holds ${choices.length} manifests; say which`, {
    hint: `name one as oci:DIR:TAG; available: ${describeChoices(choices)}`,
  });
}

function pickPlatform(manifests: readonly Descriptor[], platform: Platform, reference: string): Descriptor {
  const match = manifests.find((d) => platformMatches(d.platform, platform));
  if (match === undefined) {
    const offered = manifests.map((d) => (d.platform === undefined ? "(none)" : formatPlatform(d.platform))).join(", ");
    throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `no manifest for platform ${formatPlatform(platform)} in ${reference}`, {
      hint: `offered: ${offered}; choose one with --platform`,
    });
  }
  return match;
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
    open: async (): Promise<Readable> => createReadStream("", { fd: openBlob(path, descriptor.digest), highWaterMark: CHUNK_SIZE }),
    locate: async (): Promise<BlobFile> => {
      // Opened once here so that a missing blob is named as missing (the worker only sees ENOENT).
      closeSync(openBlob(path, descriptor.digest));
      return { path, start: 0, end: undefined };
    },
  };
}

/** Opens an OCI image layout and resolves one image in it down to its layers. */
export function openOciLayout(root: string, reference: string, options: OpenImageOptions): Image {
  const layoutData = readLayoutFile(root, "oci-layout");
  if (layoutData === undefined) {
    throw new ImageError("STRATA_BAD_IMAGE", `${root} is not an OCI image layout (no oci-layout file)`, {
      hint: "give an OCI image layout directory (skopeo copy ... oci:DIR:TAG makes one)",
    });
  }
  const layoutFile = parseJson(layoutData, "oci-layout");
  const version = asRecord(layoutFile, "oci-layout").imageLayoutVersion;
  if (typeof version !== "string" || !version.startsWith("1.")) throw bad(`unsupported imageLayoutVersion ${JSON.stringify(version)}`);
  const indexData = readLayoutFile(root, "index.json");
  if (indexData === undefined) throw new ImageError("STRATA_BAD_IMAGE", `${root} has no index.json`, { hint: "the image layout is incomplete; copy it again" });
  const index = asRecord(parseJson(indexData, "index.json"), "index.json");
  const choices = choicesOf(descriptorList(index.manifests, "index.json manifests"));
  let descriptor = pickTopLevel(choices, options, reference);
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) throw bad("image indexes nested too deeply");
    const json = asRecord(readJsonBlob(root, descriptor), `blob ${descriptor.digest}`);
    const own = typeof json.mediaType === "string" ? json.mediaType : undefined;
    if (own !== undefined && descriptor.mediaType !== undefined && own !== descriptor.mediaType) {
      throw bad(`blob ${descriptor.digest} says it is ${JSON.stringify(own)}, its descriptor says ${JSON.stringify(descriptor.mediaType)}`);
    }
    const declared = descriptor.mediaType ?? own;
    if (kindOf(declared, json) === "index") {
      descriptor = pickPlatform(descriptorList(json.manifests, `index ${descriptor.digest} manifests`), options.platform, reference);
      continue;
    }
    const configDescriptor = parseDescriptor(json.config, "manifest config");
    const layerDescriptors = descriptorList(json.layers, "manifest layers");
    const config = parseImageConfig(readSmallBlob(root, configDescriptor, "config"), layerDescriptors.length);
    return {
      reference,
      transport: "oci",
      choices,
      manifest: descriptor,
      configDigest: configDescriptor.digest,
      config,
      layers: layerDescriptors.map((d, i) => layerFrom(root, d, config.diffIds[i])),
    };
  }
}
