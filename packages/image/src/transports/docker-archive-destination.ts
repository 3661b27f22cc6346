// Writing `docker-archive:FILE[:REF]`: the tarball `docker load` reads, as
// Docker 25 and later write it: every blob under blobs/sha256/ (layers as
// they are: docker load and skopeo inflate compressed ones), manifest.json
// naming the config and layers with REF as its tag, and also index.json and
// oci-layout, so that OCI readers take it as a layout. Written into a
// private file beside FILE and renamed over it when the tag is set: a reader
// never sees half an archive, a failed copy leaves none.
import { parseDigest } from "@strata-oci/layer";
import { ImageError } from "@strata-oci/errors";
import type { BlobBody, ImageDestination } from "../destination.js";
import { asRecord, parseJson, type Descriptor } from "../descriptor.js";
import { OCI_INDEX, REF_NAME_ANNOTATION } from "../media-types.js";
import { TarFileWriter } from "../tar-file-writer.js";
import { verifiedChunks } from "../verified-chunks.js";

/** The archive's member holding a blob. */
const memberOf = (digest: string): string => {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
};

/** `name:tag` as docker save writes RepoTags: a tag added where REF has none. */
export function repoTag(ref: string): string {
  const lastPart = ref.slice(ref.lastIndexOf("/") + 1);
  return lastPart.includes(":") || lastPart.includes("@") ? ref : `${ref}:latest`;
}

export function dockerArchiveDestination(
  file: string,
  ref: string | undefined,
  name: string,
): ImageDestination {
  const archive = new ArchiveWriter(file);
  let manifest: { config: string; layers: string[]; descriptor: Descriptor } | undefined;
  return {
    name,
    documents: "any",
    holdsArtifacts: false,
    hasBlob: async (descriptor) => archive.has(descriptor.digest),
    putBlob: async (descriptor, body) => {
      await archive.putBlob(descriptor, body, name);
    },
    putManifest: async (descriptor, body) => {
      const json = asRecord(parseJson(body, "manifest"), "manifest");
      const config = asRecord(json.config, "manifest config").digest;
      const layers = Array.isArray(json.layers)
        ? json.layers.map((l, i) => asRecord(l, `manifest layers[${i}]`).digest)
        : [];
      if (typeof config !== "string" || !layers.every((l): l is string => typeof l === "string"))
        throw new ImageError(
          "STRATA_BAD_IMAGE",
          `${name}: the manifest names no config or layers`,
          {
            hint: "a docker-archive holds container images only",
          },
        );
      for (const digest of [config, ...layers])
        if (!archive.has(digest))
          throw new Error(`${name}: ${digest} was not written before its manifest (a bug in copy)`);
      await archive.putBlob(descriptor, body, name);
      manifest = { config, layers, descriptor };
    },
    tag: async () => {
      if (manifest === undefined)
        throw new Error(`${name}: tagged before its manifest was written (a bug in copy)`);
      archive.finish(manifestFiles(manifest, ref));
    },
    abandon: () => archive.discard(),
  };
}

/** manifest.json, index.json and oci-layout for the image written. */
function manifestFiles(
  image: { config: string; layers: string[]; descriptor: Descriptor },
  ref: string | undefined,
): Record<string, Buffer> {
  const tags = ref === undefined ? [] : [repoTag(ref)];
  const manifestJson = [
    { Config: memberOf(image.config), RepoTags: tags, Layers: image.layers.map(memberOf) },
  ];
  const { mediaType, digest, size } = image.descriptor;
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      {
        mediaType,
        digest,
        size,
        ...(tags[0] === undefined
          ? {}
          : {
              annotations: { "io.containerd.image.name": tags[0], [REF_NAME_ANNOTATION]: tags[0] },
            }),
      },
    ],
  };
  return {
    "manifest.json": Buffer.from(JSON.stringify(manifestJson)),
    "index.json": Buffer.from(JSON.stringify(index)),
    "oci-layout": Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })),
  };
}

/** The archive's blobs as members, each once, checked against its descriptor as it passes. */
class ArchiveWriter {
  readonly #tar: TarFileWriter;
  readonly #blobs = new Set<string>();

  constructor(file: string) {
    this.#tar = new TarFileWriter(file);
  }

  has(digest: string): boolean {
    return this.#blobs.has(digest);
  }

  async putBlob(descriptor: Descriptor, body: BlobBody, image: string): Promise<void> {
    if (this.#blobs.has(descriptor.digest)) return;
    this.#tar.header(memberOf(descriptor.digest), descriptor.size);
    const chunks = Buffer.isBuffer(body) ? [body] : await body.open();
    const context = { image, blob: descriptor.digest };
    const verified = verifiedChunks(chunks as AsyncIterable<Buffer>, descriptor, context);
    try {
      for await (const chunk of verified) await this.#tar.writeAhead(chunk);
    } catch (error) {
      // The writes under way end before the archive is discarded; the first failure is the one.
      await this.#tar.settled().catch(() => undefined);
      throw error;
    }
    await this.#tar.settled();
    this.#tar.pad(descriptor.size);
    this.#blobs.add(descriptor.digest);
  }

  /** The last members, the end of the archive, and the rename over FILE. */
  finish(files: Record<string, Buffer>): void {
    for (const [name, data] of Object.entries(files)) this.#tar.member(name, data);
    this.#tar.finish();
  }

  discard(): void {
    this.#tar.discard();
  }
}
