import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { StrataError, writeTar, type TarMember } from "@strata/layer";
import { writeOciLayout } from "@strata/image";
import { unpack } from "strata";
import { canaryChanges, plantCanaries } from "./sandbox.js";

const root = mkdtempSync(join(tmpdir(), "strata-fuzz-"));
const outside = join(root, "outside");
const canaries = plantCanaries([outside, join(root, "above")]);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Valid layers full of things a mutation can turn hostile: links out, climbing names, whiteouts. */
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

/** One mutation of a tar: bit flips, a truncation, or a header block spliced elsewhere. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("splice" as const), from: fc.nat(), to: fc.nat() }),
);

function mutate(tar: Buffer, m: typeof mutation extends fc.Arbitrary<infer T> ? T : never): Buffer {
  const out = Buffer.from(tar);
  switch (m.kind) {
    case "flip":
      for (const at of m.at) out[at % out.length] = (out[at % out.length] ?? 0) ^ (1 << m.bit);
      return out;
    case "truncate":
      return out.subarray(0, m.at % out.length);
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
                const at = 10 + ((createHash("md5").update(gz).digest()[0] ?? 0) % (gz.length - 20));
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
        expect(readdirSync(root).sort()).toEqual(["above", "outside", ...readdirSync(root).filter((n) => n.startsWith("case-"))].sort());
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: Number(process.env.STRATA_FUZZ_RUNS ?? 300) },
    );
  });
});
