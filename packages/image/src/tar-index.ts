// The members of a tarball (docker-archive, oci-archive) by name, with the
// offsets of their data: read where they lie, never extracted.
import { closeSync, readSync } from "node:fs";
import { posix } from "node:path";
import {
  BLOCK,
  isZeroBlock,
  openImageFile,
  paddingOf,
  parseHeader,
  parsePaxRecords,
  TarFormatError,
  type RawTarHeader,
} from "@strata-oci/layer";
import { ImageError, StrataError } from "@strata-oci/errors";
import { bad } from "./descriptor.js";
import { MAX_JSON_BLOB } from "./oci-layout.js";

export interface Member {
  readonly offset: number;
  readonly size: number;
}

export function readAt(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

function readHeaderAt(fd: number, position: number, file: string): RawTarHeader | undefined {
  const block = readAt(fd, BLOCK, position);
  if (block.length < BLOCK || isZeroBlock(block)) return undefined;
  try {
    return parseHeader(block);
  } catch (cause) {
    if (cause instanceof TarFormatError)
      throw bad(
        `${file} is not a tarball: ${cause.message} at byte ${position}`,
        "give an OCI layout directory, a `docker save` tarball or an oci-archive",
      );
    throw cause;
  }
}

function longNameOf(typeflag: string, data: Buffer, file: string): string | undefined {
  if (typeflag === "L") return data.toString("utf8").replace(/\0.*$/s, "");
  try {
    return parsePaxRecords(data).get("path")?.toString("utf8");
  } catch (cause) {
    if (cause instanceof TarFormatError)
      throw bad(`${file} is not a valid tarball: ${cause.message}`);
    throw cause;
  }
}

export function memberName(name: string): string {
  return posix.normalize(name).replace(/^(\.\/|\/)+/, "");
}

/**
 * Lists the regular files of a tarball with their data offsets, reading
 * headers only. Links to regular files resolve to their target: `docker
 * save` before Docker 25 writes a layer shared by two saved images once and
 * `<id>/layer.tar` of the other as a symlink to it.
 */
export function indexTar(file: string): Map<string, Member> {
  const members = new Map<string, Member>();
  const links = new Map<string, string>();
  const { fd } = openArchive(file);
  try {
    let position = 0;
    let longName: string | undefined;
    for (let header; (header = readHeaderAt(fd, position, file)) !== undefined;) {
      position += BLOCK;
      if (header.typeflag === "x" || header.typeflag === "L") {
        if (header.size > MAX_JSON_BLOB) throw bad(`${file} has an oversized extended header`);
        longName = longNameOf(header.typeflag, readAt(fd, header.size, position), file);
      } else {
        const name = memberName(longName ?? header.name.toString("utf8"));
        if (header.typeflag === "0" || header.typeflag === "\0")
          members.set(name, { offset: position, size: header.size });
        const target = header.linkname.toString("utf8");
        if (header.typeflag === "2")
          links.set(name, memberName(posix.join(posix.dirname(name), target)));
        if (header.typeflag === "1") links.set(name, memberName(target));
        longName = undefined;
      }
      position += header.size + paddingOf(header.size);
    }
  } finally {
    closeSync(fd);
  }
  for (const [name, target] of links) {
    let member: Member | undefined;
    let next: string | undefined = target;
    for (let hops = 0; member === undefined && next !== undefined && hops < 40; hops++) {
      member = members.get(next);
      next = links.get(next);
    }
    if (member !== undefined && !members.has(name)) members.set(name, member);
  }
  return members;
}

export function openArchive(file: string): { fd: number; size: number } {
  try {
    return openImageFile(file);
  } catch (cause) {
    if (cause instanceof StrataError) throw cause;
    throw new ImageError("STRATA_BAD_REFERENCE", `no archive at ${file}`, {
      cause,
      hint: "give the path of a `docker save` tarball or an oci-archive",
    });
  }
}

export function readMember(file: string, members: Map<string, Member>, name: string): Buffer {
  const member = members.get(memberName(name));
  if (member === undefined)
    throw new ImageError("STRATA_BLOB_NOT_FOUND", `the archive ${file} has no ${name}`, {
      hint: "the archive is incomplete",
    });
  if (member.size > MAX_JSON_BLOB) throw bad(`${name} in ${file} is too large`);
  const { fd } = openArchive(file);
  try {
    return readAt(fd, member.size, member.offset);
  } finally {
    closeSync(fd);
  }
}
