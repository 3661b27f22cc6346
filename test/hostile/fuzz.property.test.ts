import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { encodeMember, writeTar, type TarMember } from "@strata-oci/layer";
import { StrataError } from "@strata-oci/errors";
import { writeOciLayout } from "@strata-oci/image";
import { unpack } from "@strata-oci/core";
import { canaryChanges, plantCanaries } from "./sandbox.js";

const root = mkdtempSync(join(tmpdir(), "strata-fuzz-"));
const outside = join(root, "outside");
const canaries = plantCanaries([outside, join(root, "above")]);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Valid layers full of things a mutation can turn hostile: links out, climbing names, whiteouts.
 */
function seedLayers(): Buffer[] {
  const layer1: TarMember[] = [
    { name: "etc/", type: "dir" },
    { name: "etc/passwd", type: "file", data: "root:x:0:0::/root:/bin/sh\n" },
    { name: "out", type: "symlink", linkname: outside },
    { name: "up", type: "symlink", linkname: "../../above" },
    { name: "etc/hard", type: "hardlink", linkname: "etc/passwd" },
    { name: "d/", type: "dir" },
    { name: "d/f", type: "file", data: "x".repeat(700), xattrs: { "user.a": "1" } },
    { name: "p".repeat(120), type: "file", data: "long name" },
  ];
  const layer2: TarMember[] = [
    { name: "d/.wh.f", type: "file" },
    { name: "out2", type: "symlink", linkname: "/" },
    { name: "etc/.wh..wh..opq", type: "file" },
    { name: "etc/new", type: "file", data: "new" },
    { name: "dir2/", type: "dir", mode: 0o755 },
  ];
  return [writeTar(layer1), writeTar(layer2)];
}

const SEEDS = seedLayers();

/** Numeric header fields: offset, length, and whether the field may be negative. */
const FIELDS = [
  { offset: 100, length: 8 }, // mode
  { offset: 108, length: 8 }, // uid
  { offset: 116, length: 8 }, // gid
  { offset: 124, length: 12 }, // size
  { offset: 136, length: 12 }, // mtime
  { offset: 329, length: 8 }, // devmajor
  { offset: 337, length: 8 }, // devminor
] as const;

/** Texts that PAX numbers have been seen to carry: signs, fractions, hex, spaces, huge values. */
const paxNumberText = fc.oneof(
  fc.constantFrom(
    "-1",
    "1.5",
    "0x10",
    " 5",
    "5 ",
    "",
    "1e3",
    "4294967295",
    "4294967296",
    "99999999999999999999",
    "-0",
    "0.000000001",
    "-86400.5",
  ),
  fc.integer().map(String),
  fc.stringMatching(/^[-0-9.x ]{1,12}$/),
);

/**
 * One mutation of a tar: bit flips, a truncation, a header block spliced
 * elsewhere, a numeric header field rewritten field by field (octal or GNU
 * base-256, checksum fixed so that the value is what is tested), or a PAX
 * header with a hostile number in front of a member (issue #9).
 */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
    bit: fc.nat(7),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("splice" as const), from: fc.nat(), to: fc.nat() }),
  fc.record({
    kind: fc.constant("field" as const),
    block: fc.nat(),
    field: fc.nat(FIELDS.length - 1),
    value: fc.oneof(
      fc.stringMatching(/^[0-7 ]{0,11}$/),
      fc.uint8Array({ minLength: 12, maxLength: 12 }).map((a) => {
        a[0] = (a[0] ?? 0) | 0x80;
        return a;
      }),
    ),
  }),
  fc.record({
    kind: fc.constant("pax" as const),
    member: fc.nat(),
    key: fc.constantFrom("size", "uid", "gid", "mtime"),
    value: paxNumberText,
  }),
);

function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
}

/**
 * Offsets of the header blocks of a tar written by writeTar (every member is a header, then data).
 */
function headerOffsets(tar: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break;
    offsets.push(at);
    const size = parseInt(
      tar.toString("latin1", at + 124, at + 135).replace(/\0.*$/, "") || "0",
      8,
    );
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return offsets;
}

function mutate(tar: Buffer, m: typeof mutation extends fc.Arbitrary<infer T> ? T : never): Buffer {
  const out = Buffer.from(tar);
  switch (m.kind) {
    case "flip":
      for (const at of m.at) out[at % out.length] = (out[at % out.length] ?? 0) ^ (1 << m.bit);
      return out;
    case "truncate":
      return out.subarray(0, m.at % out.length);
    case "field": {
      const headers = headerOffsets(out);
      const at = headers[m.block % headers.length] ?? 0;
      const { offset, length } = FIELDS[m.field] ?? FIELDS[0];
      const block = out.subarray(at, at + 512);
      block.fill(0, offset, offset + length);
      const value =
        typeof m.value === "string" ? Buffer.from(m.value, "latin1") : Buffer.from(m.value);
      value.copy(block, offset, 0, Math.min(length, value.length));
      fixChecksum(block);
      return out;
    }
    case "pax": {
      const headers = headerOffsets(out);
      const at = headers[m.member % headers.length] ?? 0;
      // encodeMember writes the PAX header, its records and their padding first.
      const [header = Buffer.alloc(0), records = Buffer.alloc(0), padding = Buffer.alloc(0)] =
        encodeMember({ name: "x", type: "file", pax: { [m.key]: m.value } });
      return Buffer.concat([out.subarray(0, at), header, records, padding, out.subarray(at)]);
    }
    case "splice": {
      const blocks = Math.floor(out.length / 512);
      const from = (m.from % blocks) * 512;
      const to = (m.to % blocks) * 512;
      out.copy(out, to, from, from + 512);
      return out;
    }
  }
}

let run = 0;

// Each case mutates the uncompressed tar and writes a layout whose digests
// match the mutated bytes, so the mutation reaches the tar parser and the
// overlay instead of stopping at a digest check.
describe("fuzzing: mutated layers", () => {
  it("never write outside DEST and only ever fail with strata's typed errors", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(1), mutation, fc.boolean(), async (which, m, compressedToo) => {
        const dir = join(root, `case-${run++}`);
        mkdirSync(dir);
        const tars = SEEDS.map((t, i) => (i === which ? mutate(t, m) : t));
        const layout = join(dir, "image");
        writeOciLayout(layout, {
          layers: tars.map((tar, i) => ({
            tar,
            // Sometimes damage the gzip stream itself (digest fixed, diff_id not).
            compress: (t: Buffer) => {
              const gz = gzipSync(t);
              if (compressedToo && i === which && gz.length > 20) {
                const at =
                  10 + ((createHash("md5").update(gz).digest()[0] ?? 0) % (gz.length - 20));
                gz[at] = (gz[at] ?? 0) ^ 0x55;
              }
              return gz;
            },
          })),
          tag: "fuzz",
        });
        try {
          await unpack({ image: `oci:${layout}:fuzz`, dest: join(dir, "dest") });
          expect(readdirSync(dir).sort()).toEqual(["dest", "image"]);
        } catch (error) {
          if (!(error instanceof StrataError)) throw error;
          expect(error.code).toMatch(/^STRATA_/);
          expect(readdirSync(dir)).toEqual(["image"]);
        }
        expect(canaryChanges(canaries)).toEqual([]);
        expect(readdirSync(root).sort()).toEqual(
          ["above", "outside", ...readdirSync(root).filter((n) => n.startsWith("case-"))].sort(),
        );
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: Number(process.env.STRATA_FUZZ_RUNS ?? 300) },
    );
  });
});
