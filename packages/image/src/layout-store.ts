// Writing into an OCI image layout safely, for every command that adds to
// one (pull, squash): blobs first, each under a temporary name until complete
// and verified, then index.json, replaced atomically with the other tags kept.
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { ImageError, type ErrorContext } from "@strata-oci/errors";
import type { Descriptor } from "./descriptor.js";
import { OCI_INDEX, REF_NAME_ANNOTATION } from "./media-types.js";
import { blobPath } from "./oci-layout.js";
import { pathAndTag } from "./transport.js";
import { imageTransports } from "./transports/index.js";
import type { Platform } from "./platform.js";
import { makeDirectories } from "./make-directories.js";
import { BlobVerifier } from "./verified-chunks.js";
import { Writeback } from "./writeback.js";

/** Makes `layout` an OCI image layout where it is not one yet (oci-layout, blobs/sha256). */
export function prepareLayout(layout: string): void {
  makeDirectories(join(layout, "blobs", "sha256"));
  if (!existsSync(join(layout, "oci-layout")))
    writeAtomically(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
}

/** True when the layout already has this blob (at its size: a blob's name is its digest). */
export function hasBlob(layout: string, digest: string, size: number): boolean {
  return statSync(blobPath(layout, digest), { throwIfNoEntry: false })?.size === size;
}

/**
 * Writes a file whole under a temporary name, then renames it into place: readers see all of it or
 * nothing.
 */
export function writeAtomically(path: string, data: Buffer | string): void {
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    writeFileSync(temporary, data, { flag: "wx" });
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** A small blob (config, manifest) stored under its sha256; returns its descriptor fields. */
export function putJsonBlob(
  layout: string,
  value: unknown,
): { digest: string; size: number; data: Buffer } {
  const data = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  if (!hasBlob(layout, digest, data.length)) writeAtomically(blobPath(layout, digest), data);
  return { digest, size: data.length, data };
}

/**
 * Streams bytes into a new blob of the layout: hashed as they are written,
 * fsynced, and renamed to their digest only when complete and, where
 * `expected` is given, only when they are what it says (a longer stream
 * fails as soon as it passes the size). A failure leaves nothing.
 */
export async function writeBlob(
  layout: string,
  chunks: AsyncIterable<Buffer>,
  expected?: { readonly digest: string; readonly size: number; readonly context?: ErrorContext },
  { durable = true }: { readonly durable?: boolean } = {},
): Promise<{ digest: string; size: number }> {
  const verifier = new BlobVerifier(expected, expected?.context);
  const directory = join(layout, "blobs", verifier.algorithm);
  makeDirectories(directory);
  const temporary = join(directory, `.tmp-${randomBytes(6).toString("hex")}`);
  const fd = openSync(temporary, "wx", 0o644);
  // Not durable: a staging layout made into an archive (not fsynced either) and removed.
  const writeback = durable ? new Writeback(fd) : undefined;
  let closed = false;
  try {
    for await (const chunk of chunks) {
      verifier.add(chunk);
      for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
      writeback?.wrote(chunk.length);
    }
    const { digest, size } = verifier.finish();
    await writeback?.settled();
    if (durable) fsyncSync(fd);
    closeSync(fd);
    closed = true;
    renameSync(temporary, blobPath(layout, digest));
    return { digest, size };
  } finally {
    if (!closed) {
      await writeback?.settled();
      closeSync(fd);
    }
    rmSync(temporary, { force: true });
  }
}

/**
 * index.json with `manifest` tagged `tag`: other tags kept, an older manifest with this tag
 * untagged.
 */
export function tagInIndex(
  layout: string,
  manifest: Descriptor,
  tag: string,
  platform: Platform | undefined,
): void {
  const path = join(layout, "index.json");
  let index: {
    schemaVersion: number;
    mediaType?: string;
    manifests: Array<Record<string, unknown>>;
  } = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  if (existsSync(path)) {
    try {
      index = JSON.parse(readFileSync(path, "utf8")) as typeof index;
      if (!Array.isArray(index.manifests)) throw new Error("no manifests list");
    } catch (cause) {
      throw new ImageError("STRATA_BAD_IMAGE", `${path} is not an image index`, {
        cause,
        hint: "write into a new directory, or repair the layout",
      });
    }
  }
  const kept = index.manifests.filter(
    (m) => (m.annotations as Record<string, string> | undefined)?.[REF_NAME_ANNOTATION] !== tag,
  );
  kept.push({
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    ...(platform === undefined ? {} : { platform }),
    annotations: { [REF_NAME_ANNOTATION]: tag },
  });
  writeAtomically(path, JSON.stringify({ ...index, manifests: kept }));
}

/**
 * `oci:DIR[:TAG]` or DIR, split as unpack splits it (so that `unpack oci:DIR:TAG` finds what was
 * written).
 */
export function outputLayout(
  layout: string,
  command: string,
): { path: string; tag: string | undefined } {
  const name = /^([a-z][a-z0-9-]*):/.exec(layout)?.[1];
  const other = imageTransports().some((t) => t.name === name && name !== "oci");
  if (other)
    throw new ImageError("STRATA_BAD_REFERENCE", `${command} writes OCI layouts, not ${layout}`, {
      hint: "give oci:DIR[:TAG]",
    });
  return pathAndTag(name === "oci" ? layout.slice("oci:".length) : layout);
}
