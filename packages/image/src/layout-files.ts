// The files of an OCI image layout, wherever they lie: a directory (oci:),
// or the members of a tarball of one (oci-archive:, read in place).
import { closeSync, createReadStream } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  CHUNK_SIZE,
  LimitExceededError,
  openImageFile,
  parseDigest,
  readImageFile,
  type BlobFile,
} from "@strata-oci/layer";
import { ImageError, StrataError } from "@strata-oci/errors";
import { indexTar, memberName, openArchive, readAt, type Member } from "./tar-index.js";

export interface LayoutFiles {
  /** As messages name it. */
  readonly where: string;
  /**
   * `oci-layout`, `index.json` or `blobs/ALG/HEX` whole; undefined when missing; a
   * LimitExceededError past `max` bytes.
   */
  read(name: string, max: number): Buffer | undefined;
  /** A blob's bytes: STRATA_BLOB_NOT_FOUND when missing. */
  stream(digest: string): Readable;
  /** Where a blob's bytes lie (for the blob worker): STRATA_BLOB_NOT_FOUND when missing. */
  locate(digest: string): BlobFile;
}

/** Where a layout keeps the blob `digest`, relative to its root: blobs/ALGORITHM/HEX. */
export function blobName(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

export function missingBlob(digest: string, where: string, cause?: unknown): ImageError {
  return new ImageError("STRATA_BLOB_NOT_FOUND", `blob ${digest} is missing from ${where}`, {
    cause,
    hint: "the image layout is incomplete; copy it again",
  });
}

/** A layout directory: files opened without following a final symlink, regular files only. */
export function directoryFiles(root: string): LayoutFiles {
  const open = (digest: string): number => {
    try {
      return openImageFile(join(root, blobName(digest))).fd;
    } catch (cause) {
      if (cause instanceof StrataError) throw cause;
      throw missingBlob(digest, "the layout", cause);
    }
  };
  return {
    where: root,
    read(name, max) {
      try {
        return readImageFile(join(root, name), max);
      } catch (cause) {
        if (cause instanceof StrataError) throw cause;
        return undefined;
      }
    },
    stream: (digest) => createReadStream("", { fd: open(digest), highWaterMark: CHUNK_SIZE }),
    locate(digest) {
      // Opened once here so that a missing blob is named as missing (the worker only sees ENOENT).
      closeSync(open(digest));
      return { path: join(root, blobName(digest)), start: 0, end: undefined };
    },
  };
}

/** A tarball of a layout (skopeo's and buildah's oci-archive), its members read where they lie. */
export function archiveFiles(file: string): LayoutFiles {
  let index: Map<string, Member> | undefined;
  const members = (): Map<string, Member> => (index ??= indexTar(file));
  const member = (digest: string): Member => {
    const found = members().get(memberName(blobName(digest)));
    if (found === undefined) throw missingBlob(digest, file);
    return found;
  };
  return {
    where: file,
    read(name, max) {
      const found = members().get(memberName(name));
      if (found === undefined) return undefined;
      if (found.size > max) throw new LimitExceededError("maxJsonSize", found.size, max);
      const { fd } = openArchive(file);
      try {
        return readAt(fd, found.size, found.offset);
      } finally {
        closeSync(fd);
      }
    },
    stream(digest) {
      const { offset, size } = member(digest);
      const { fd } = openArchive(file);
      const range = size === 0 ? { start: 0, end: -1 } : { start: offset, end: offset + size - 1 };
      return createReadStream("", { fd, ...range, highWaterMark: CHUNK_SIZE });
    },
    locate(digest) {
      const { offset, size } = member(digest);
      return { path: file, start: offset, end: offset + size };
    },
  };
}
