import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { CHUNK_SIZE, parseDigest, type BlobFile, type Layer } from "@strata-oci/layer";
import { ImageError } from "@strata-oci/errors";
import { createHash } from "node:crypto";
import { asRecord, bad, parseJson } from "./descriptor.js";
import { parseImageConfig } from "./image-config.js";
import type { ManifestChoice, SourceImage, SpecWarning } from "./image.js";
import { archiveManifest } from "./docker-archive-manifest.js";
import { indexTar, memberName, openArchive, readMember } from "./tar-index.js";
import type { OpenImageOptions } from "./manifest-walk.js";

/** `blobs/sha256/<hex>` or `<hex>.json` names carry the blob's digest. */
function digestFromName(name: string): string | undefined {
  const blob = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(name);
  if (blob !== null) return `${blob[1]}:${blob[2]}`;
  const legacy = /^([0-9a-f]{64})\.json$/.exec(name);
  return legacy === null ? undefined : `sha256:${legacy[1]}`;
}

/**
 * Opens a docker-archive tarball (`docker save`, skopeo) through its
 * manifest.json. Archives from Docker 25 and later are also OCI layouts, but
 * some carry a broken index.json; manifest.json is always there, so it is
 * the one read.
 */
export function openDockerArchive(
  file: string,
  reference: string,
  options: Pick<OpenImageOptions, "tag">,
): SourceImage {
  const members = indexTar(file);
  const manifest = parseJson(
    readMember(file, members, "manifest.json"),
    "docker-archive manifest.json",
  );
  if (!Array.isArray(manifest)) throw bad("docker-archive manifest.json is not a list");
  const entries = manifest.map((m, i) => asRecord(m, `manifest.json[${i}]`));
  const choices: ManifestChoice[] = entries.map((e) => ({
    descriptor: { mediaType: undefined, digest: "", size: 0, annotations: {}, platform: undefined },
    tag: Array.isArray(e.RepoTags)
      ? e.RepoTags.filter((t): t is string => typeof t === "string").join(",") || undefined
      : undefined,
    platform: undefined,
  }));
  const entry = chooseEntry(entries, choices, reference, options.tag);
  const configName = entry.Config;
  const layerNames = entry.Layers;
  if (
    typeof configName !== "string" ||
    !Array.isArray(layerNames) ||
    !layerNames.every((l): l is string => typeof l === "string")
  ) {
    throw bad("docker-archive manifest.json entry lacks Config or Layers");
  }
  const configData = readMember(file, members, configName);
  const { configDigest, sourceWarnings } = configIdentity(configName, configData);
  const config = parseImageConfig(configData, layerNames.length);
  const layers = layerNames.map((name, i) => archiveLayer(file, members, name, config.diffIds[i]));
  // What a copy writes: the archive holds no manifest, so one is made of its blobs.
  const { details, documents } = archiveManifest(
    file,
    members,
    { digest: configDigest, data: configData },
    layerNames.map((name, i) => ({
      name,
      named: digestFromName(name),
      diffId: config.diffIds[i],
    })),
  );
  return {
    reference,
    transport: "docker-archive",
    choices,
    manifest: undefined,
    configDigest,
    config,
    layers,
    indexes: [],
    details,
    documents,
    sourceWarnings,
  };
}

/** The manifest.json entry tagged `tag`, or the only one. */
function chooseEntry(
  entries: readonly Record<string, unknown>[],
  choices: readonly ManifestChoice[],
  reference: string,
  tag: string | undefined,
): Record<string, unknown> {
  const available = choices.map((c) => c.tag ?? "(untagged)").join(", ");
  if (tag !== undefined) {
    const entry = entries.find((e) => Array.isArray(e.RepoTags) && e.RepoTags.includes(tag));
    if (entry !== undefined) return entry;
    throw new ImageError(
      "STRATA_MANIFEST_NOT_FOUND",
      `no image tagged ${JSON.stringify(tag)} in ${reference}`,
      { hint: `available: ${available}` },
    );
  }
  if (entries.length === 0) throw bad("docker-archive manifest.json is empty");
  if (entries.length === 1) return entries[0] as Record<string, unknown>;
  throw new ImageError(
    "STRATA_AMBIGUOUS_MANIFEST",
    `${reference} holds ${entries.length} images; say which`,
    { hint: `name one as docker-archive:FILE:REF; available: ${available}` },
  );
}

/**
 * The config's digest, from its bytes. The archive's file names are not verified claims (skopeo
 * and docker load take an archive whose config is named for another digest): a name that says
 * otherwise is said.
 */
function configIdentity(
  configName: string,
  configData: Buffer,
): { configDigest: string; sourceWarnings: SpecWarning[] } {
  const named = digestFromName(configName);
  const algorithm = named === undefined ? "sha256" : parseDigest(named).algorithm;
  const configDigest = `${algorithm}:${createHash(algorithm).update(configData).digest("hex")}`;
  if (named === undefined || named === configDigest) return { configDigest, sourceWarnings: [] };
  const warning: SpecWarning = {
    rule: "a docker-archive's config file is named by its digest",
    detail:
      `config ${configName} is named for ${named}, but its bytes are ` +
      `${configDigest} (taken as they are)`,
    producers: "go-containerregistry's test archives (source_image_with_empty_layer_history.tar)",
  };
  return { configDigest, sourceWarnings: [warning] };
}

/** The layer stored in the archive as member `name`, read where it lies. */
function archiveLayer(
  file: string,
  members: ReturnType<typeof indexTar>,
  name: string,
  diffId: string | undefined,
): Layer {
  const member = members.get(memberName(name));
  if (member === undefined)
    throw new ImageError("STRATA_BLOB_NOT_FOUND", `docker-archive ${file} has no layer ${name}`, {
      hint: "the archive is incomplete",
    });
  return {
    digest: digestFromName(name),
    size: member.size,
    mediaType: undefined,
    diffId,
    open: async (): Promise<Readable> => {
      const { fd } = openArchive(file);
      const range =
        member.size === 0
          ? { start: 0, end: -1 }
          : { start: member.offset, end: member.offset + member.size - 1 };
      return createReadStream("", { fd, ...range, highWaterMark: CHUNK_SIZE });
    },
    locate: async (): Promise<BlobFile> => ({
      path: file,
      start: member.offset,
      end: member.offset + member.size,
    }),
  };
}
