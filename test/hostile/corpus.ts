import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { writeTar, type StrataErrorCode, type TarMember } from "@strata/layer";
import { editConfig, editManifest, layerBlob, replaceLayerBlob } from "./layout-edit.js";

/** What a case may refer to: the absolute path of a canary directory outside the sandbox. */
export interface CaseContext {
  readonly outside: string;
}

export interface HostileCase {
  readonly name: string;
  /** Layers, bottom first; written as a gzip OCI layout. */
  readonly layers: (ctx: CaseContext) => TarMember[][];
  /** Changes the written layout (broken images). */
  readonly damage?: (layout: string) => void;
  readonly flags?: readonly string[];
  /** "contained": the unpack succeeds and everything stays inside DEST. */
  readonly expect: StrataErrorCode | "contained";
  /** Extra checks on a contained result. */
  readonly check?: (dest: string, ctx: CaseContext) => void;
}

const file = (name: string | Buffer, data = "owned\n", extra: Partial<TarMember> = {}): TarMember => ({ name, type: "file", data, ...extra });
const dir = (name: string, extra: Partial<TarMember> = {}): TarMember => ({ name, type: "dir", ...extra });
const link = (name: string, target: string): TarMember => ({ name, type: "symlink", linkname: target });
const hard = (name: string, target: string, extra: Partial<TarMember> = {}): TarMember => ({ name, type: "hardlink", linkname: target, ...extra });
const read = (dest: string, path: string): string => readFileSync(join(dest, path), "utf8");

export const HOSTILE_CASES: readonly HostileCase[] = [
  // names
  { name: "name ../x", layers: () => [[file("../x")]], expect: "STRATA_UNSAFE_PATH" },
  { name: "name a/../../x", layers: () => [[file("a/../../x")]], expect: "STRATA_UNSAFE_PATH" },
  { name: "name ./../x", layers: () => [[file("./../x")]], expect: "STRATA_UNSAFE_PATH" },
  { name: "absolute name lands inside", layers: (c) => [[file(`${c.outside}/file`)]], expect: "contained", check: (d, c) => void read(d, `${c.outside}/file`) },
  { name: "empty name", layers: () => [[file("")]], expect: "STRATA_BAD_ENTRY_NAME" },
  { name: "NUL byte in a PAX path", layers: () => [[file("x", "x", { pax: { path: Buffer.from("a\0../../x") } })]], expect: "STRATA_BAD_ENTRY_NAME" },
  { name: "path longer than PATH_MAX", layers: () => [[file(`${"d/".repeat(2100)}f`)]], expect: "STRATA_LIMIT_EXCEEDED" },
  { name: "backslashes are a literal character", layers: () => [[file("..\\..\\x")]], expect: "contained", check: (d) => void read(d, "..\\..\\x") },
  // symlink escapes
  { name: "symlink ../../.. then write through it, one layer", layers: () => [[link("evil", "../../.."), file("evil/escaped")]], expect: "contained", check: (d) => void read(d, "escaped") },
  { name: "symlink planted in layer 1, written through in layer 2", layers: () => [[link("evil", "../../canary-above")], [file("evil/file", "overwritten?")]], expect: "contained", check: (d) => void read(d, "canary-above/file") },
  { name: "absolute symlink to a real outside directory", layers: (c) => [[link("evil", c.outside)], [file("evil/file"), file("evil/new")]], expect: "contained", check: (d, c) => void read(d, `${c.outside}/new`) },
  { name: "symlink chain climbing out", layers: () => [[link("a", "b"), link("b", "c"), link("c", "../../../..")], [file("a/chained")]], expect: "contained", check: (d) => void read(d, "chained") },
  { name: "symlink to the root", layers: () => [[link("r", "/")], [file("r/etc/x")]], expect: "contained", check: (d) => void read(d, "etc/x") },
  { name: "symlink loop", layers: () => [[link("a", "b"), link("b", "a")], [file("a/x")]], expect: "STRATA_SYMLINK_LOOP" },
  { name: "a file entry replaces a planted symlink, never writes through it (GNU tar CVE-2025-45582)", layers: (c) => [[link("f", `${c.outside}/file`)], [file("f", "replaced")]], expect: "contained", check: (d) => void (read(d, "f") === "replaced" || fail("f not replaced")) },
  // hardlink escapes
  { name: "hardlink to an absolute outside path", layers: (c) => [[hard("h", `${c.outside}/file`)]], expect: "STRATA_BAD_HARDLINK" },
  { name: "hardlink climbing out", layers: () => [[hard("h", "../../canary-above/file")]], expect: "STRATA_UNSAFE_PATH" },
  { name: "hardlink through a planted symlink", layers: (c) => [[link("l", c.outside)], [hard("h", "l/file")]], expect: "STRATA_BAD_HARDLINK" },
  { name: "write through a hardlinked name replaces it", layers: () => [[file("f", "original"), hard("h", "f")], [file("h", "new")]], expect: "contained", check: (d) => void (read(d, "f") === "original" || fail("f changed")) },
  // metadata through links
  { name: "hardlink to a symlink pointing outside, with a new mode (containerd CVE-2021-32760)", layers: (c) => [[link("s", `${c.outside}/file`)], [hard("h", "s", { mode: 0o777 })]], expect: "contained" },
  { name: "directory entry over a symlink pointing outside", layers: (c) => [[link("d", c.outside)], [dir("d", { mode: 0o777, mtime: 5 })]], expect: "contained" },
  { name: "file with xattrs over a symlink pointing outside", layers: (c) => [[link("f", `${c.outside}/file`)], [file("f", "x", { xattrs: { "trusted.evil": "1" } })]], expect: "contained" },
  // whiteout escapes
  { name: "whiteout .wh.", layers: () => [[file("a")], [file(".wh.")]], expect: "STRATA_BAD_WHITEOUT" },
  { name: "whiteout .wh..", layers: () => [[file("a")], [file(".wh..")]], expect: "STRATA_BAD_WHITEOUT" },
  { name: "whiteout .wh...", layers: () => [[file("a")], [file(".wh...")]], expect: "STRATA_BAD_WHITEOUT" },
  { name: "whiteout dir/.wh.", layers: () => [[dir("dir")], [file("dir/.wh.")]], expect: "STRATA_BAD_WHITEOUT" },
  { name: "a name that only starts like the opaque marker", layers: () => [[dir("d"), file("d/keep")], [file("d/.wh..wh..opqX")]], expect: "contained", check: (d) => void read(d, "d/keep") },
  { name: "whiteout climbing out", layers: () => [[file("a")], [file("../.wh.canary-above")]], expect: "STRATA_UNSAFE_PATH" },
  { name: "whiteouts below a symlink pointing outside", layers: (c) => [[link("l", c.outside), link("up", "../../canary-above")], [file("l/.wh.file"), file("l/.wh..wh..opq"), file("up/.wh.file"), file("up/.wh.sub")]], expect: "contained" },
  // the root itself
  { name: "root entry . as a symlink (umoci CVE-2021-29136)", layers: (c) => [[link(".", c.outside), file("x")]], expect: "STRATA_ROOT_NOT_DIRECTORY" },
  { name: "root entry ./ as a file", layers: () => [[file("./")]], expect: "STRATA_ROOT_NOT_DIRECTORY" },
  { name: "root entry / as a symlink", layers: () => [[link("/", "/"), file("x")]], expect: "STRATA_ROOT_NOT_DIRECTORY" },
  // bombs
  { name: "declared size far larger than the data", layers: () => [[file("big", "tiny", { pax: { size: "10000000000" } })]], expect: "STRATA_TRUNCATED_LAYER" },
  { name: "file larger than --max-file-size", layers: () => [[file("big", "x".repeat(5000))]], flags: ["--max-file-size", "4K"], expect: "STRATA_LIMIT_EXCEEDED" },
  { name: "hundreds of thousands of entries, over --max-entries", layers: () => [Array.from({ length: 300_000 }, (_, i) => file(`.wh.none${i}`))], flags: ["--max-entries", "200000"], expect: "STRATA_LIMIT_EXCEEDED" },
  { name: "thousands of nested directories", layers: () => [Array.from({ length: 1000 }, (_, i) => dir("n/".repeat(i + 1)))], expect: "STRATA_LIMIT_EXCEEDED" },
  { name: "huge PAX header", layers: () => [[file("x", "x", { pax: { comment: "c".repeat(3 * 2 ** 20) } })]], expect: "STRATA_LIMIT_EXCEEDED" },
  { name: "GNU sparse entry", layers: () => [[file("sparse", "x", { pax: { "GNU.sparse.major": "1", "GNU.sparse.minor": "0" } })]], expect: "STRATA_CORRUPT_LAYER" },
  // broken images
  { name: "wrong layer digest", layers: () => [[file("a")]], damage: (l) => flipGzipMtime(layerBlob(l)), expect: "STRATA_DIGEST_MISMATCH" },
  { name: "wrong layer size", layers: () => [[file("a")]], damage: (l) => editManifest(l, (m) => void (m.layers[0].size += 10)), expect: "STRATA_SIZE_MISMATCH" },
  { name: "wrong diff_id", layers: () => [[file("a")]], damage: (l) => editConfig(l, (c) => void (c.rootfs.diff_ids[0] = `sha256:${"1".repeat(64)}`)), expect: "STRATA_DIGEST_MISMATCH" },
  { name: "truncated gzip", layers: () => [[file("a", "a".repeat(10_000))]], damage: (l) => replaceLayerBlob(l, readFileSync(layerBlob(l)).subarray(0, 40)), expect: "STRATA_TRUNCATED_LAYER" },
  { name: "bytes that are not what the media type says", layers: () => [[file("a")]], damage: (l) => replaceLayerBlob(l, writeTar([file("a")])), expect: "STRATA_MEDIA_TYPE_MISMATCH" },
  { name: "missing blob", layers: () => [[file("a")]], damage: (l) => rmSync(layerBlob(l)), expect: "STRATA_BLOB_NOT_FOUND" },
  { name: "index.json that is not JSON", layers: () => [[file("a")]], damage: (l) => writeFileSync(join(l, "index.json"), "{ not json"), expect: "STRATA_BAD_IMAGE" },
  { name: "unknown layer media type", layers: () => [[file("a")]], damage: (l) => editManifest(l, (m) => void (m.layers[0].mediaType = "application/x-evil")), expect: "STRATA_UNSUPPORTED_MEDIA_TYPE" },
  { name: "unknown manifest media type", layers: () => [[file("a")]], damage: (l) => editManifest(l, (m) => void (m.mediaType = "application/x-evil")), expect: "STRATA_BAD_IMAGE" },
  { name: "rootfs.type not layers", layers: () => [[file("a")]], damage: (l) => editConfig(l, (c) => void (c.rootfs.type = "snapshot")), expect: "STRATA_BAD_IMAGE" },
  { name: "fewer diff_ids than layers", layers: () => [[file("a")], [file("b")]], damage: (l) => editConfig(l, (c) => void c.rootfs.diff_ids.pop()), expect: "STRATA_BAD_IMAGE" },
  { name: "duplicate entries in one layer: the later wins", layers: () => [[file("dup", "first"), file("dup", "second")]], expect: "contained", check: (d) => void (read(d, "dup") === "second" || fail("dup")) },
  { name: "gzip bomb: a small blob of many zeros, over --max-total-bytes", layers: () => [Array.from({ length: 8 }, (_, i) => file(`zero${i}`, Buffer.alloc(8 << 20).toString()))], flags: ["--max-total-bytes", "16M"], expect: "STRATA_LIMIT_EXCEEDED" },
];

function fail(message: string): never {
  throw new Error(message);
}

/** Changes the gzip header's mtime: the blob stays valid gzip, its digest changes. */
function flipGzipMtime(blob: string): void {
  const data = readFileSync(blob);
  data[4] = (data[4] ?? 0) ^ 0xff;
  writeFileSync(blob, data);
}

