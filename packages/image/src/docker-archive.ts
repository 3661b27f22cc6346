import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import { CHUNK_SIZE, BLOCK, ImageError, isZeroBlock, paddingOf, parseDigest, parseHeader, parsePaxRecords, type BlobFile, type Layer } from "@strata/layer";
import { createHash } from "node:crypto";
import { asRecord, bad, parseJson } from "./descriptor.js";
import { parseImageConfig } from "./image-config.js";
import type { Image, ManifestChoice } from "./image.js";
import { MAX_JSON_BLOB, type OpenImageOptions } from "./oci-layout.js";

interface Member {
  readonly offset: number;
  readonly size: number;
}

function readAt(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

/** Lists the regular files of a tarball with their data offsets, reading headers only. */
function indexTar(file: string): Map<string, Member> {
  const members = new Map<string, Member>();
  const fd = openSync(file, "r");
  try {
    let position = 0;
    let longName: string | undefined;
    for (;;) {
      const block = readAt(fd, BLOCK, position);
      if (block.length < BLOCK || isZeroBlock(block)) break;
      const header = parseHeader(block);
      position += BLOCK;
      if (header.typeflag === "x" || header.typeflag === "L") {
        if (header.size > MAX_JSON_BLOB) throw bad("docker-archive has an oversized extended header");
        const data = readAt(fd, header.size, position);
        longName = header.typeflag === "L" ? data.toString("utf8").replace(/\0.*$/s, "") : parsePaxRecords(data).get("path")?.toString("utf8");
      } else {
        const name = posix.normalize(longName ?? header.name.toString("utf8")).replace(/^(\.\/|\/)+/, "");
        if (header.typeflag === "0" || header.typeflag === "\0") members.set(name, { offset: position, size: header.size });
        longName = undefined;
      }
      position += header.size + paddingOf(header.size);
    }
  } finally {
    closeSync(fd);
  }
  return members;
}

function readMember(file: string, members: Map<string, Member>, name: string): Buffer {
  const member = members.get(posix.normalize(name));
  if (member === undefined) throw new ImageError("STRATA_BLOB_NOT_FOUND", `docker-archive ${file} has no ${name}`, { hint: "the archive is incomplete" });
  if (member.size > MAX_JSON_BLOB) throw bad(`${name} in ${file} is too large`);
  const fd = openSync(file, "r");
  try {
    return readAt(fd, member.size, member.offset);
  } finally {
    closeSync(fd);
  }
}

/** `blobs/sha256/<hex>` or `<hex>.json` names carry the blob's digest. */
function digestFromName(name: string): string | undefined {
  const blob = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(name);
  if (blob !== null) return `${blob[1]}:${blob[2]}`;
  const legacy = /^([0-9a-f]{64})\.json$/.exec(name);
  return legacy === null ? undefined : `sha256:${legacy[1]}`;
}

function checkDigest(data: Buffer, digest: string | undefined, what: string): void {
  if (digest === undefined) return;
  const { algorithm, hex } = parseDigest(digest);
  if (createHash(algorithm).update(data).digest("hex") !== hex) throw bad(`${what} does not match its digest ${digest}`, "the archive is corrupt");
}

/**
 * Opens a docker-archive tarball (`docker save`, skopeo) through its
 * manifest.json. Archives from Docker 25 and later are also OCI layouts, but
 * some carry a broken index.json; manifest.json is always there, so it is
 * the one read.
 */
export function openDockerArchive(file: string, reference: string, options: Pick<OpenImageOptions, "tag">): Image {
  const members = indexTar(file);
  const manifest = parseJson(readMember(file, members, "manifest.json"), "docker-archive manifest.json");
  if (!Array.isArray(manifest)) throw bad("docker-archive manifest.json is not a list");
  const entries = manifest.map((m, i) => asRecord(m, `manifest.json[${i}]`));
  const choices: ManifestChoice[] = entries.map((e) => ({
    descriptor: { mediaType: undefined, digest: "", size: 0, annotations: {}, platform: undefined },
    tag: Array.isArray(e.RepoTags) ? e.RepoTags.filter((t): t is string => typeof t === "string").join(",") || undefined : undefined,
    platform: undefined,
  }));
  let entry: Record<string, unknown> | undefined;
  if (options.tag !== undefined) {
    entry = entries.find((e) => Array.isArray(e.RepoTags) && e.RepoTags.includes(options.tag));
    if (entry === undefined) throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `no image tagged ${JSON.stringify(options.tag)} in ${reference}`, { hint: `available: ${choices.map((c) => c.tag ?? "(untagged)").join(", ")}` });
  } else if (entries.length === 1) {
    entry = entries[0];
  } else {
    throw new ImageError("STRATA_AMBIGUOUS_MANIFEST", `${reference} holds ${entries.length} images; say which`, {
      hint: `name one as docker-archive:FILE:REF; available: ${choices.map((c) => c.tag ?? "(untagged)").join(", ")}`,
    });
  }
  if (entry === undefined) throw bad("docker-archive manifest.json is empty");
  const configName = entry.Config;
  const layerNames = entry.Layers;
  if (typeof configName !== "string" || !Array.isArray(layerNames) || !layerNames.every((l): l is string => typeof l === "string")) {
    throw bad("docker-archive manifest.json entry lacks Config or Layers");
  }
  const configData = readMember(file, members, configName);
  const configDigest = digestFromName(configName);
  checkDigest(configData, configDigest, `config ${configName}`);
  const config = parseImageConfig(configData, layerNames.length);
  const layers: Layer[] = layerNames.map((name, i) => {
    const member = members.get(posix.normalize(name));
    if (member === undefined) throw new ImageError("STRATA_BLOB_NOT_FOUND", `docker-archive ${file} has no layer ${name}`, { hint: "the archive is incomplete" });
    return {
      digest: digestFromName(name),
      size: member.size,
      mediaType: undefined,
      diffId: config.diffIds[i],
      open: async (): Promise<Readable> =>
        member.size === 0 ? createReadStream(file, { start: 0, end: -1 }) : createReadStream(file, { start: member.offset, end: member.offset + member.size - 1, highWaterMark: CHUNK_SIZE }),
      locate: async (): Promise<BlobFile> => ({ path: file, start: member.offset, end: member.offset + member.size }),
    };
  });
  return { reference, transport: "docker-archive", choices, manifest: undefined, configDigest, config, layers };
}
