import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { compress as zstdCompress } from "zstd-napi";

import { encodeMember, writeTar, type TarMember } from "@strata-oci/layer";
import { type StrataErrorCode } from "@strata-oci/errors";
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

const file = (
  name: string | Buffer,
  data = "owned\n",
  extra: Partial<TarMember> = {},
): TarMember => ({ name, type: "file", data, ...extra });
const dir = (name: string, extra: Partial<TarMember> = {}): TarMember => ({
  name,
  type: "dir",
  ...extra,
});
const link = (name: string, target: string): TarMember => ({
  name,
  type: "symlink",
  linkname: target,
});
const hard = (name: string, target: string, extra: Partial<TarMember> = {}): TarMember => ({
  name,
  type: "hardlink",
  linkname: target,
  ...extra,
});
const read = (dest: string, path: string): string => readFileSync(join(dest, path), "utf8");

/**
 * Two names of the same length whose 30-bit FNV-1a hashes (PathTree's) are
 * equal: a lookup that trusted a hash hit of the right length would take one
 * for the other (a mutation no test caught; issue #26).
 */
export function sameLengthCollision(): [string, string] {
  const hash = (name: string): number => {
    let h = 0x811c9dc5;
    for (const c of Buffer.from(name, "latin1")) h = Math.imul(h ^ c, 16777619);
    return h & 0x3fffffff;
  };
  const seen = new Map<number, string>();
  for (let i = 36 ** 3; i < 36 ** 4; i++) {
    const name = i.toString(36);
    const other = seen.get(hash(name));
    if (other !== undefined) return [other, name];
    seen.set(hash(name), name);
  }
  throw new Error("no same-length collision among 4-letter names");
}

const [COLLIDING_A, COLLIDING_B] = sameLengthCollision();

export const HOSTILE_CASES: readonly HostileCase[] = [
  // names
  { name: "name ../x", layers: () => [[file("../x")]], expect: "STRATA_UNSAFE_PATH" },
  { name: "name a/../../x", layers: () => [[file("a/../../x")]], expect: "STRATA_UNSAFE_PATH" },
  { name: "name ./../x", layers: () => [[file("./../x")]], expect: "STRATA_UNSAFE_PATH" },
  {
    name: "absolute name lands inside",
    layers: (c) => [[file(`${c.outside}/file`)]],
    expect: "contained",
    check: (d, c) => void read(d, `${c.outside}/file`),
  },
  { name: "empty name", layers: () => [[file("")]], expect: "STRATA_BAD_ENTRY_NAME" },
  {
    name: "NUL byte in a PAX path",
    layers: () => [[file("x", "x", { pax: { path: Buffer.from("a\0../../x") } })]],
    expect: "STRATA_BAD_ENTRY_NAME",
  },
  {
    name: "path longer than PATH_MAX",
    layers: () => [[file(`${"d/".repeat(2100)}f`)]],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "backslashes are a literal character",
    layers: () => [[file("..\\..\\x")]],
    expect: "contained",
    check: (d) => void read(d, "..\\..\\x"),
  },
  // symlink escapes
  {
    name: "symlink ../../.. then write through it, one layer",
    layers: () => [[link("evil", "../../.."), file("evil/escaped")]],
    expect: "contained",
    check: (d) => void read(d, "escaped"),
  },
  {
    name: "symlink planted in layer 1, written through in layer 2",
    layers: () => [[link("evil", "../../canary-above")], [file("evil/file", "overwritten?")]],
    expect: "contained",
    check: (d) => void read(d, "canary-above/file"),
  },
  {
    name: "absolute symlink to a real outside directory",
    layers: (c) => [[link("evil", c.outside)], [file("evil/file"), file("evil/new")]],
    expect: "contained",
    check: (d, c) => void read(d, `${c.outside}/new`),
  },
  {
    name: "symlink chain climbing out",
    layers: () => [[link("a", "b"), link("b", "c"), link("c", "../../../..")], [file("a/chained")]],
    expect: "contained",
    check: (d) => void read(d, "chained"),
  },
  {
    name: "symlink to the root",
    layers: () => [[link("r", "/")], [file("r/etc/x")]],
    expect: "contained",
    check: (d) => void read(d, "etc/x"),
  },
  {
    name: "symlink loop",
    layers: () => [[link("a", "b"), link("b", "a")], [file("a/x")]],
    expect: "STRATA_SYMLINK_LOOP",
  },
  {
    name:
      "a file entry replaces a planted symlink, never writes through it (GNU tar " +
      "CVE-2025-45582)",
    layers: (c) => [[link("f", `${c.outside}/file`)], [file("f", "replaced")]],
    expect: "contained",
    check: (d) => void (read(d, "f") === "replaced" || fail("f not replaced")),
  },
  // hardlink escapes
  {
    name: "hardlink to an absolute outside path",
    layers: (c) => [[hard("h", `${c.outside}/file`)]],
    expect: "STRATA_BAD_HARDLINK",
  },
  {
    name: "hardlink climbing out",
    layers: () => [[hard("h", "../../canary-above/file")]],
    expect: "STRATA_UNSAFE_PATH",
  },
  {
    name: "hardlink through a planted symlink",
    layers: (c) => [[link("l", c.outside)], [hard("h", "l/file")]],
    expect: "STRATA_BAD_HARDLINK",
  },
  {
    name: "write through a hardlinked name replaces it",
    layers: () => [[file("f", "original"), hard("h", "f")], [file("h", "new")]],
    expect: "contained",
    check: (d) => void (read(d, "f") === "original" || fail("f changed")),
  },
  // metadata through links
  {
    name: "hardlink to a symlink pointing outside, with a new mode (containerd CVE-2021-32760)",
    layers: (c) => [[link("s", `${c.outside}/file`)], [hard("h", "s", { mode: 0o777 })]],
    expect: "contained",
  },
  {
    name: "directory entry over a symlink pointing outside",
    layers: (c) => [[link("d", c.outside)], [dir("d", { mode: 0o777, mtime: 5 })]],
    expect: "contained",
  },
  {
    name: "file with xattrs over a symlink pointing outside",
    layers: (c) => [
      [link("f", `${c.outside}/file`)],
      [file("f", "x", { xattrs: { "trusted.evil": "1" } })],
    ],
    expect: "contained",
  },
  // whiteout escapes
  {
    name: "whiteout .wh.",
    layers: () => [[file("a")], [file(".wh.")]],
    expect: "STRATA_BAD_WHITEOUT",
  },
  {
    name: "whiteout .wh..",
    layers: () => [[file("a")], [file(".wh..")]],
    expect: "STRATA_BAD_WHITEOUT",
  },
  {
    name: "whiteout .wh...",
    layers: () => [[file("a")], [file(".wh...")]],
    expect: "STRATA_BAD_WHITEOUT",
  },
  {
    name: "whiteout dir/.wh.",
    layers: () => [[dir("dir")], [file("dir/.wh.")]],
    expect: "STRATA_BAD_WHITEOUT",
  },
  {
    name: "a name that only starts like the opaque marker",
    layers: () => [[dir("d"), file("d/keep")], [file("d/.wh..wh..opqX")]],
    expect: "contained",
    check: (d) => void read(d, "d/keep"),
  },
  {
    name: "whiteout climbing out",
    layers: () => [[file("a")], [file("../.wh.canary-above")]],
    expect: "STRATA_UNSAFE_PATH",
  },
  {
    name: "whiteouts below a symlink pointing outside",
    layers: (c) => [
      [link("l", c.outside), link("up", "../../canary-above")],
      [file("l/.wh.file"), file("l/.wh..wh..opq"), file("up/.wh.file"), file("up/.wh.sub")],
    ],
    expect: "contained",
  },
  // the root itself
  {
    name: "root entry . as a symlink (umoci CVE-2021-29136)",
    layers: (c) => [[link(".", c.outside), file("x")]],
    expect: "STRATA_ROOT_NOT_DIRECTORY",
  },
  {
    name: "root entry ./ as a file",
    layers: () => [[file("./")]],
    expect: "STRATA_ROOT_NOT_DIRECTORY",
  },
  {
    name: "root entry / as a symlink",
    layers: () => [[link("/", "/"), file("x")]],
    expect: "STRATA_ROOT_NOT_DIRECTORY",
  },
  // bombs
  {
    name: "declared size far larger than the data",
    layers: () => [[file("big", "tiny", { pax: { size: "10000000000" } })]],
    expect: "STRATA_TRUNCATED_LAYER",
  },
  {
    name: "file larger than --max-file-size",
    layers: () => [[file("big", "x".repeat(5000))]],
    flags: ["--max-file-size", "4K"],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "hundreds of thousands of entries, over --max-entries",
    layers: () => [Array.from({ length: 300_000 }, (_, i) => file(`.wh.none${i}`))],
    flags: ["--max-entries", "200000"],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "thousands of nested directories",
    layers: () => [Array.from({ length: 1000 }, (_, i) => dir("n/".repeat(i + 1)))],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "huge PAX header",
    layers: () => [[file("x", "x", { pax: { comment: "c".repeat(3 * 2 ** 20) } })]],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "GNU sparse entry",
    layers: () => [
      [file("sparse", "x", { pax: { "GNU.sparse.major": "1", "GNU.sparse.minor": "0" } })],
    ],
    expect: "STRATA_CORRUPT_LAYER",
  },
  // broken images
  {
    name: "wrong layer digest",
    layers: () => [[file("a")]],
    damage: (l) => flipGzipMtime(layerBlob(l)),
    expect: "STRATA_DIGEST_MISMATCH",
  },
  {
    name: "wrong layer size",
    layers: () => [[file("a")]],
    damage: (l) => editManifest(l, (m) => void (m.layers[0].size += 10)),
    expect: "STRATA_SIZE_MISMATCH",
  },
  {
    name: "wrong diff_id",
    layers: () => [[file("a")]],
    damage: (l) => editConfig(l, (c) => void (c.rootfs.diff_ids[0] = `sha256:${"1".repeat(64)}`)),
    expect: "STRATA_DIGEST_MISMATCH",
  },
  {
    name: "truncated gzip",
    layers: () => [[file("a", "a".repeat(10_000))]],
    damage: (l) => replaceLayerBlob(l, readFileSync(layerBlob(l)).subarray(0, 40)),
    expect: "STRATA_TRUNCATED_LAYER",
  },
  {
    name: "bytes that are not what the media type says",
    layers: () => [[file("a")]],
    damage: (l) => replaceLayerBlob(l, writeTar([file("a")])),
    expect: "STRATA_MEDIA_TYPE_MISMATCH",
  },
  {
    name: "missing blob",
    layers: () => [[file("a")]],
    damage: (l) => rmSync(layerBlob(l)),
    expect: "STRATA_BLOB_NOT_FOUND",
  },
  {
    name: "index.json that is not JSON",
    layers: () => [[file("a")]],
    damage: (l) => writeFileSync(join(l, "index.json"), "{ not json"),
    expect: "STRATA_BAD_IMAGE",
  },
  {
    name: "unknown layer media type beside a layer",
    layers: () => [[file("a")], [file("b")]],
    damage: (l) => editManifest(l, (m) => void (m.layers[1].mediaType = "application/x-evil")),
    expect: "STRATA_UNSUPPORTED_MEDIA_TYPE",
  },
  // No layer type at all: what a signature (cosign's) looks like; never unpacked (#14).
  {
    name: "no layer of a layer media type: an artifact",
    layers: () => [[file("a")]],
    damage: (l) => editManifest(l, (m) => void (m.layers[0].mediaType = "application/x-evil")),
    expect: "STRATA_NOT_AN_IMAGE",
  },
  {
    name: "unknown manifest media type",
    layers: () => [[file("a")]],
    damage: (l) => editManifest(l, (m) => void (m.mediaType = "application/x-evil")),
    expect: "STRATA_BAD_IMAGE",
  },
  {
    name: "rootfs.type not layers",
    layers: () => [[file("a")]],
    damage: (l) => editConfig(l, (c) => void (c.rootfs.type = "snapshot")),
    expect: "STRATA_BAD_IMAGE",
  },
  {
    name: "fewer diff_ids than layers",
    layers: () => [[file("a")], [file("b")]],
    damage: (l) => editConfig(l, (c) => void c.rootfs.diff_ids.pop()),
    expect: "STRATA_BAD_IMAGE",
  },
  {
    name: "duplicate entries in one layer: the later wins",
    layers: () => [[file("dup", "first"), file("dup", "second")]],
    expect: "contained",
    check: (d) => void (read(d, "dup") === "second" || fail("dup")),
  },
  // issue #9, round 2 (each class named; see the issue)
  {
    name: "#9.1 dir d, symlink d -> absolute outside, file d/y in one layer: the cache forgets d",
    layers: (c) => [[dir("d"), link("d", c.outside), file("d/y")]],
    expect: "contained",
    check: (d, c) => void read(d, `${c.outside}/y`),
  },
  {
    name:
      "#26 a known directory and a symlink out whose names are of one length and one " +
      "30-bit hash: the symlink is never taken for the directory",
    layers: (c) => [
      [link(COLLIDING_B, c.outside)],
      [
        dir(COLLIDING_A),
        file(`${COLLIDING_A}/keep`),
        file(`${COLLIDING_B}/escaped`),
        file(`${COLLIDING_A}/more`),
      ],
    ],
    expect: "contained",
    check: (d, c) => {
      void read(d, `${c.outside}/escaped`);
      void read(d, `${COLLIDING_A}/more`);
    },
  },
  {
    name: "#9.1 the same across two layers",
    layers: (c) => [
      [dir("d"), file("d/keep")],
      [link("d", c.outside), file("d/y")],
    ],
    expect: "contained",
    check: (d, c) => void read(d, `${c.outside}/y`),
  },
  {
    name: "#9.3 PAX size -1",
    layers: () => [[file("x", "x", { pax: { size: "-1" } }), file("after")]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.3 PAX size 1.5",
    layers: () => [[file("x", "x", { pax: { size: "1.5" } }), file("after")]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.8 PAX size 0x10",
    layers: () => [[file("x", "x".repeat(16), { pax: { size: "0x10" } })]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.3 a FIFO in place of a layer blob",
    layers: () => [[file("a")]],
    damage: (l) => mkfifoAt(layerBlob(l)),
    expect: "STRATA_BAD_IMAGE",
  },
  {
    name: "#9.3 a FIFO in place of index.json",
    layers: () => [[file("a")]],
    damage: (l) => mkfifoAt(join(l, "index.json")),
    expect: "STRATA_BAD_IMAGE",
  },
  {
    name: "#9.4 index.json that is a sparse 1 GB file",
    layers: () => [[file("a")]],
    damage: (l) => sparse(join(l, "index.json"), 2 ** 30),
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "#9.4 a manifest blob longer than its descriptor (sparse 1 GB)",
    layers: () => [[file("a")]],
    damage: (l) => sparse(manifestBlob(l), 2 ** 30),
    expect: "STRATA_SIZE_MISMATCH",
  },
  {
    name: "#9.4 stacked PAX headers, each under the limit, together over it",
    layers: () => [[file("x")]],
    damage: (l) => replaceLayerTar(l, stackedPaxTar(3, 400_000)),
    flags: ["--max-header-size", "1M"],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "#9.4 zstd bomb over --max-total-bytes",
    layers: () => [[{ name: "zero", type: "file", data: Buffer.alloc(64 << 20) }]],
    damage: (l) => toZstd(l),
    flags: ["--max-total-bytes", "16M"],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
  {
    name: "#9.5 4,000 repeated opaque markers on a directory written in the same layer",
    layers: () => [
      [
        dir("d"),
        ...Array.from({ length: 200 }, (_, i) => file(`d/f${i}`)),
        ...Array.from({ length: 4000 }, () => file("d/.wh..wh..opq")),
      ],
    ],
    expect: "contained",
    check: (d) => void read(d, "d/f199"),
  },
  {
    name: "#9.5 symlink chains that expand to thousands of components",
    layers: () => [chainOfSymlinks(39)],
    expect: "STRATA_SYMLINK_LOOP",
  },
  {
    name: "#9.6 uid -1 in PAX",
    layers: () => [[file("x", "x", { pax: { uid: "-1" } })]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.6 uid 2^32 in PAX",
    layers: () => [[file("x", "x", { pax: { uid: String(2 ** 32) } })]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.6 gid 1.5 in PAX",
    layers: () => [[file("x", "x", { pax: { gid: "1.5" } })]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.6 an xattr name longer than the kernel allows",
    layers: () => [[file("x", "x", { xattrs: { [`user.${"n".repeat(300)}`]: "v" } })]],
    expect: "STRATA_BAD_XATTR",
  },
  {
    name: "#9.6 a bad %-escape in a LIBARCHIVE.xattr name",
    layers: () => [[file("x", "x", { pax: { "LIBARCHIVE.xattr.user.%zz": "dg==" } })]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.6 gzip whose data check fails inside a file's body",
    layers: () => [[file("big", "y".repeat(300_000))]],
    damage: (l) => damageGzipTrailer(l),
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.8 a device number that overflows",
    layers: () => [[{ name: "dev", type: "char", devMajor: 0o7777777, devMinor: 1 }]],
    expect: "STRATA_CORRUPT_LAYER",
  },
  {
    name: "#9.8 --platform linux/arm64 on an amd64-only image",
    layers: () => [[file("a")]],
    flags: ["--platform", "linux/arm64"],
    expect: "STRATA_PLATFORM_MISMATCH",
  },
  {
    name: "#9.9 a zstd blob that starts with a skippable frame",
    layers: () => [[file("a", "zstd")]],
    damage: (l) => toZstd(l, true),
    expect: "contained",
    check: (d) => void (read(d, "a") === "zstd" || fail("a")),
  },
  {
    name: "#9.9 a GNU negative base-256 mtime",
    layers: () => [[file("old", "1969")]],
    damage: (l) => negativeMtime(l),
    expect: "contained",
    check: (d) => void (statSync(join(d, "old")).mtimeMs < 0 || fail("mtime not negative")),
  },
  {
    name: "gzip bomb: a small blob of many zeros, over --max-total-bytes",
    layers: () => [
      Array.from({ length: 8 }, (_, i) => file(`zero${i}`, Buffer.alloc(8 << 20).toString())),
    ],
    flags: ["--max-total-bytes", "16M"],
    expect: "STRATA_LIMIT_EXCEEDED",
  },
];

function mkfifoAt(path: string): void {
  rmSync(path);
  execFileSync("mkfifo", [path]);
}

function sparse(path: string, size: number): void {
  rmSync(path);
  writeFileSync(path, "");
  truncateSync(path, size);
}

function manifestBlob(layout: string): string {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string }>;
  };
  return join(
    layout,
    "blobs",
    "sha256",
    (index.manifests[0]?.digest ?? "").slice("sha256:".length),
  );
}

/** Re-stores layer 0 as zstd (optionally behind a skippable frame); the diff_id stays right. */
function toZstd(layout: string, skippable = false): void {
  const tar = gunzipSync(readFileSync(layerBlob(layout)));
  const frame = Buffer.alloc(12);
  frame.writeUInt32LE(0x184d2a50, 0);
  frame.writeUInt32LE(4, 4);
  replaceLayerBlob(layout, Buffer.concat([...(skippable ? [frame] : []), zstdCompress(tar)]));
  editManifest(
    layout,
    (m) => void (m.layers[0].mediaType = "application/vnd.oci.image.layer.v1.tar+zstd"),
  );
}

/**
 * Flips a bit of the gzip CRC-32 trailer, keeping the blob's digest right: only the data check can
 * tell.
 */
function damageGzipTrailer(layout: string): void {
  const blob = Buffer.from(readFileSync(layerBlob(layout)));
  const at = blob.length - 6;
  blob[at] = (blob[at] ?? 0) ^ 1;
  replaceLayerBlob(layout, blob);
}

/** Stores `tar` as layer 0 (gzip), fixing its digest, size and diff_id. */
function replaceLayerTar(layout: string, tar: Buffer): void {
  replaceLayerBlob(layout, gzipSync(tar));
  editConfig(
    layout,
    (c) => void (c.rootfs.diff_ids[0] = `sha256:${createHash("sha256").update(tar).digest("hex")}`),
  );
}

/** `count` PAX headers of `bytes` each, one after another, before a single file. */
function stackedPaxTar(count: number, bytes: number): Buffer {
  const paxParts = (i: number): Buffer[] =>
    encodeMember(file("x", "x", { pax: { [`comment.${i}`]: "c".repeat(bytes) } })).slice(0, 3);
  return Buffer.concat([
    ...Array.from({ length: count }, (_, i) => paxParts(i)).flat(),
    writeTar([file("x")]),
  ]);
}

/**
 * Rewrites layer 0's first header with a GNU base-256 mtime of -86400 (1969-12-31), fixing checksum
 * and diff_id.
 */
function negativeMtime(layout: string): void {
  const tar = Buffer.from(gunzipSync(readFileSync(layerBlob(layout))));
  tar.fill(0xff, 136, 148);
  tar.writeIntBE(-86400, 142, 6);
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i] ?? 0;
  tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  replaceLayerTar(layout, tar);
}

/**
 * 39 symlinks, each pointing at the one before it through thousands of `./` components, and files
 * below the last.
 */
function chainOfSymlinks(count: number): TarMember[] {
  const members: TarMember[] = [dir("base")];
  let previous = "base";
  for (let i = 0; i < count; i++) {
    members.push(link(`s${i}`, `${"./".repeat(1000)}${previous}`));
    previous = `s${i}`;
  }
  return [...members, ...Array.from({ length: 50 }, (_, i) => file(`${previous}/f${i}`))];
}

function fail(message: string): never {
  throw new Error(message);
}

/** Changes the gzip header's mtime: the blob stays valid gzip, its digest changes. */
function flipGzipMtime(blob: string): void {
  const data = readFileSync(blob);
  data[4] = (data[4] ?? 0) ^ 0xff;
  writeFileSync(blob, data);
}
