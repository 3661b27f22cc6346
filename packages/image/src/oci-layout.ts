import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  DigestMismatchError,
  LimitExceededError,
  parseDigest,
  SizeMismatchError,
  type BlobFile,
  type Layer,
} from "@strata-oci/layer";
import { ImageError, StrataError } from "@strata-oci/errors";
import { asRecord, bad, parseJson, type Descriptor } from "./descriptor.js";
import { blobName, directoryFiles, missingBlob, type LayoutFiles } from "./layout-files.js";
import { emptyImageConfig, parseImageConfig } from "./image-config.js";
import type { Referrer, SourceImage } from "./image.js";
import { INDEX_TYPES, MANIFEST_TYPES } from "./media-types.js";
import {
  choicesOf,
  indexLevel,
  kindOf,
  manifestDetails,
  pickManifest,
  MAX_INDEX_DEPTH,
  pickTopLevel,
  type OpenImageOptions,
} from "./manifest-walk.js";

/** JSON blobs (indexes, manifests, configs) larger than this are refused: they are read whole. */
export const MAX_JSON_BLOB = 16 * 2 ** 20;

/** Where a layout keeps the blob `digest`: blobs/ALGORITHM/HEX. */
export function blobPath(root: string, digest: string): string {
  return join(root, blobName(digest));
}

/** Reads a small blob (manifest, index, config) whole and checks its size and digest. */
function readSmallBlob(files: LayoutFiles, descriptor: Descriptor, what: string): Buffer {
  if (descriptor.size > MAX_JSON_BLOB)
    throw bad(
      `${what} ${descriptor.digest} of ${descriptor.size} bytes is too large for a manifest ` +
        `or config`,
    );
  let data: Buffer | undefined;
  try {
    // One byte past the descriptor's size is enough to tell a longer blob.
    data = files.read(blobName(descriptor.digest), descriptor.size + 1);
  } catch (cause) {
    if (cause instanceof LimitExceededError)
      throw new SizeMismatchError(descriptor.size, cause.value, {
        blob: `${what} ${descriptor.digest}`,
      });
    throw cause;
  }
  if (data === undefined) throw missingBlob(descriptor.digest, "the layout");
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

function readJsonBlob(files: LayoutFiles, descriptor: Descriptor): unknown {
  return parseJson(readSmallBlob(files, descriptor, "manifest"), `blob ${descriptor.digest}`);
}

function layerFrom(files: LayoutFiles, descriptor: Descriptor, diffId: string | undefined): Layer {
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    mediaType: descriptor.mediaType,
    diffId,
    open: async (): Promise<Readable> => files.stream(descriptor.digest),
    locate: async (): Promise<BlobFile> => files.locate(descriptor.digest),
  };
}

const filesOf = (root: string | LayoutFiles): LayoutFiles =>
  typeof root === "string" ? directoryFiles(root) : root;

/** Opens an OCI image layout and resolves one image in it down to its layers. */
export function openOciLayout(
  layout: string | LayoutFiles,
  reference: string,
  options: OpenImageOptions,
): SourceImage {
  const files = filesOf(layout);
  const root = files.where;
  const layoutData = files.read("oci-layout", MAX_JSON_BLOB);
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
  const indexData = files.read("index.json", MAX_JSON_BLOB);
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
  let named: { descriptor: Descriptor; body: Buffer } | undefined;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) throw bad("image indexes nested too deeply");
    const json = asRecord(readJsonBlob(files, descriptor), `blob ${descriptor.digest}`);
    const what = `manifest ${descriptor.digest}`;
    if (kindOf(descriptor.mediaType, json, what) === "index") {
      const level = indexLevel(json, descriptor.digest, descriptor.mediaType);
      indexes.push(level);
      // The index the tag names, as stored: what copy --all writes.
      if (depth === 0) named = { descriptor, body: readSmallBlob(files, descriptor, "index") };
      descriptor = pickManifest(level.manifests, options, reference, depth);
      continue;
    }
    const details = manifestDetails(json, descriptor, what);
    // An artifact's config is not an image config: nothing to parse, nothing to unpack.
    const config =
      details.artifact !== undefined
        ? emptyImageConfig()
        : parseImageConfig(readSmallBlob(files, details.config, "config"), details.layers.length);
    return {
      reference,
      transport: "oci",
      choices,
      manifest: descriptor,
      configDigest: details.config.digest,
      config,
      layers: details.layers.map((d, i) => layerFrom(files, d, config.diffIds[i])),
      indexes,
      details,
      ...(named === undefined ? {} : { index: named }),
      readDocument: async (document) => readSmallBlob(files, document, "manifest"),
      documents: async () => ({
        manifest: readSmallBlob(files, descriptor, "manifest"),
        config: readSmallBlob(files, details.config, "config"),
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
  layout: string | LayoutFiles,
  subjects: ReadonlySet<string>,
): { referrers: Referrer[]; skipped: string[] } {
  const files = filesOf(layout);
  const root = files.where;
  const indexData = files.read("index.json", MAX_JSON_BLOB);
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
    const json = asRecord(readJsonBlob(files, descriptor), `blob ${descriptor.digest}`);
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
