import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { crc32, deflateRawSync, gunzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { readLayer, writeTar, type GzipBackend, type Layer } from "@strata-oci/layer";
import { fileLayer, memoryLayer, sha256, tempDir } from "../../../test/support/layers.js";

// Issue #9 class 2: every gzip decoder strata uses must read a blob exactly
// as zlib (and so gzip(1), Go, Python) reads it: the same bytes, or a
// refusal. Random headers (FEXTRA, FNAME, FCOMMENT, FHCRC, reserved flags),
// members, padding, garbage, truncation and damage, cut into random chunks.
// CI runs a fixed budget; STRATA_FUZZ_RUNS=N runs longer.
const RUNS = Number(process.env.STRATA_FUZZ_RUNS ?? 300);
const ADDON = join(import.meta.dirname, "..", "native", "build", "strata_gzip.node");
const isal = existsSync(ADDON)
  ? (createRequire(import.meta.url)(ADDON) as {
      create(): unknown;
      inflate(
        state: unknown,
        input: Buffer,
        inOffset: number,
        inLength: number,
        output: Buffer,
        outOffset: number,
        outLength: number,
        result: Uint32Array,
      ): void;
      finished(state: unknown): boolean;
    })
  : undefined;

interface MemberSpec {
  data: Uint8Array;
  level: number;
  extra: Uint8Array | undefined;
  name: Uint8Array | undefined;
  comment: Uint8Array | undefined;
  hcrc: "none" | "good" | "bad";
  reserved: number;
  method: number;
  badTrailer: boolean;
}

function member(spec: MemberSpec): Buffer {
  let flags = spec.reserved;
  if (spec.hcrc !== "none") flags |= 2;
  if (spec.extra !== undefined) flags |= 4;
  if (spec.name !== undefined) flags |= 8;
  if (spec.comment !== undefined) flags |= 16;
  const parts: Uint8Array[] = [Buffer.from([0x1f, 0x8b, spec.method, flags, 1, 2, 3, 4, 0, 3])];
  if (spec.extra !== undefined) {
    const length = Buffer.alloc(2);
    length.writeUInt16LE(spec.extra.length);
    parts.push(length, spec.extra);
  }
  if (spec.name !== undefined) parts.push(spec.name, Buffer.from([0]));
  if (spec.comment !== undefined) parts.push(spec.comment, Buffer.from([0]));
  if (spec.hcrc !== "none") {
    const crc = Buffer.alloc(2);
    crc.writeUInt16LE((crc32(Buffer.concat(parts)) & 0xffff) ^ (spec.hcrc === "bad" ? 1 : 0));
    parts.push(crc);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE((crc32(spec.data) ^ (spec.badTrailer ? 1 : 0)) >>> 0, 0);
  trailer.writeUInt32LE(spec.data.length >>> 0, 4);
  parts.push(deflateRawSync(spec.data, { level: spec.level }), trailer);
  return Buffer.concat(parts);
}

const noNul = (max: number) =>
  fc.uint8Array({ minLength: 0, maxLength: max }).map((a) => Buffer.from(a.map((b) => b || 1)));
const rare = <T>(arb: fc.Arbitrary<T>, other: T) =>
  fc.oneof({ weight: 9, arbitrary: fc.constant(other) }, { weight: 1, arbitrary: arb });

const memberSpec: fc.Arbitrary<MemberSpec> = fc.record({
  data: fc.oneof(
    fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
    fc.integer({ min: 0, max: 200_000 }).map((n) => Buffer.alloc(n, "ab")),
  ),
  level: fc.integer({ min: 0, max: 9 }),
  extra: fc.option(
    fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
    { nil: undefined },
  ),
  name: fc.option(noNul(600), { nil: undefined }),
  comment: fc.option(noNul(600), { nil: undefined }),
  hcrc: fc.constantFrom("none", "good", "good", "bad"),
  reserved: rare(fc.constantFrom(0x20, 0x40, 0x80), 0),
  method: rare(fc.constantFrom(0, 7, 9), 8),
  badTrailer: rare(fc.constant(true), false),
});

const blobSpec = fc.record({
  members: fc.array(memberSpec, { minLength: 1, maxLength: 4 }),
  tail: fc.constantFrom("none", "none", "zeros", "garbage", "magic-only"),
  truncate: rare(fc.double({ min: 0, max: 1, noNaN: true }), 1),
  flip: fc.option(
    fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 })),
    { nil: undefined, freq: 8 },
  ),
  chunks: fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 8 }),
  window: fc.integer({ min: 1, max: 70_000 }),
});

function blobOf(spec: typeof blobSpec extends fc.Arbitrary<infer T> ? T : never): Buffer {
  const tails: Record<string, Buffer> = {
    none: Buffer.alloc(0),
    zeros: Buffer.alloc(700),
    garbage: Buffer.from("garbage"),
    "magic-only": Buffer.from([0x1f]),
  };
  let blob = Buffer.concat([...spec.members.map(member), tails[spec.tail] ?? Buffer.alloc(0)]);
  if (spec.truncate < 1) blob = blob.subarray(0, Math.floor(blob.length * spec.truncate));
  if (spec.flip !== undefined && blob.length > 0) {
    blob = Buffer.from(blob);
    const at = Math.floor(spec.flip[0] * blob.length);
    blob[at] = (blob[at] ?? 0) ^ spec.flip[1];
  }
  return blob;
}

type Result = { ok: true; data: Buffer } | { ok: false };

function reference(blob: Buffer): Result {
  try {
    return { ok: true, data: gunzipSync(blob) };
  } catch {
    return { ok: false };
  }
}

/**
 * Drives the ISA-L addon as the worker does, with input cut into `chunks` and output windows of
 * `window` bytes.
 */
function throughIsal(blob: Buffer, chunks: readonly number[], window: number): Result {
  if (isal === undefined) throw new Error("no addon");
  const state = isal.create();
  const result = new Uint32Array(3);
  const out: Buffer[] = [];
  try {
    let ended = false;
    for (let at = 0, i = 0; at < blob.length && !ended; i++) {
      const input = blob.subarray(at, at + (chunks[i % chunks.length] ?? 1));
      at += input.length;
      let offset = 0;
      for (;;) {
        const output = Buffer.alloc(window);
        isal.inflate(state, input, offset, input.length - offset, output, 0, window, result);
        const [consumed = 0, produced = 0, padded = 0] = result;
        out.push(output.subarray(0, produced));
        offset += consumed;
        if (padded === 1) {
          ended = true;
          break;
        }
        if (produced < window) {
          if (offset < input.length) return { ok: false };
          break;
        }
      }
    }
    if (!ended && !isal.finished(state)) return { ok: false };
    return { ok: true, data: Buffer.concat(out) };
  } catch {
    return { ok: false };
  }
}

/** Counterexamples hold megabytes of data: report the seed and path to replay, not the values. */
function shortReport<T>(details: fc.RunDetails<T>): void {
  if (details.failed)
    throw new Error(
      `seed ${details.seed}, path ${details.counterexamplePath}: ${String(details.errorInstance)}`,
    );
}

function same(actual: Result, expected: Result): void {
  expect(actual.ok).toBe(expected.ok);
  if (actual.ok && expected.ok) expect(actual.data.equals(expected.data)).toBe(true);
}

describe.skipIf(isal === undefined)("gzip: the ISA-L decoder reads every blob as zlib does", () => {
  it(`random headers, members, tails and damage in random chunks (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(blobSpec, (spec) => {
        const blob = blobOf(spec);
        same(throughIsal(blob, spec.chunks, spec.window), reference(blob));
      }),
      { numRuns: RUNS, reporter: shortReport },
    );
  });

  it("a FNAME straddling any input boundary, followed by FCOMMENT", () => {
    const blob = member({
      data: Buffer.from("tar bytes ".repeat(100)),
      level: 6,
      extra: undefined,
      name: Buffer.alloc(40, "n"),
      comment: Buffer.alloc(40, "c"),
      hcrc: "none",
      reserved: 0,
      method: 8,
      badTrailer: false,
    });
    for (let cut = 1; cut < 120; cut++)
      same(throughIsal(blob, [cut, blob.length], 1 << 16), reference(blob));
  });
});

describe(
  "gzip: every backend of readLayer reads a header straddling the 1 MiB read boundary " +
    "as zlib does",
  () => {
    const files = tempDir("strata-gzip-diff-");
    afterAll(() => files.remove());
    const tar = writeTar([{ name: "etc/issue", type: "file", data: "the real tar\n" }]);
    const comment = Buffer.concat([
      Buffer.from("not deflate data: "),
      randomBytes(64).map((b) => b || 1),
    ]);
    const cases = [(1 << 20) - 12, (1 << 20) - 11, (1 << 20) - 1, 1 << 20, (1 << 20) + 3].map(
      (nameLength) => ({
        nameLength,
        blob: member({
          data: tar,
          level: 6,
          extra: undefined,
          name: Buffer.alloc(nameLength, "n"),
          comment,
          hcrc: "good",
          reserved: 0,
          method: 8,
          badTrailer: false,
        }),
      }),
    );
    const backends: Array<{ name: string; offThread: boolean; gzipBackend?: GzipBackend }> = [
      { name: "worker, default decoder", offThread: true },
      { name: "worker, zlib", offThread: true, gzipBackend: "zlib" },
      { name: "this thread, zlib stream", offThread: false },
    ];
    for (const { nameLength, blob } of cases) {
      for (const backend of backends) {
        it(`FNAME of ${nameLength} bytes then FCOMMENT: ${backend.name}`, async () => {
          expect(gunzipSync(blob).equals(tar)).toBe(true);
          const inMemory: Layer = { ...memoryLayer(tar, { blob }), digest: sha256(blob) };
          const layer = await fileLayer(inMemory, join(files.path, `blob-${nameLength}`));
          const names: string[] = [];
          const options = {
            offThread: backend.offThread,
            ...(backend.gzipBackend === undefined ? {} : { gzipBackend: backend.gzipBackend }),
          };
          for await (const entry of readLayer(layer, options)) names.push(entry.path.toString());
          expect(names).toEqual(["etc/issue"]);
        });
      }
    }
  },
);
