import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TarMember } from "@strata-oci/layer";
import {
  anyStack,
  diskOutcome,
  markers,
  mergedOutcome,
  modelOutcome,
  sameOutcome as same,
  wellFormedLayer,
} from "@strata-oci/testing";

// Several hundred cases per CI run in all; seeds are printed by fast-check on failure.
describe("property: the disk target equals the reference model", () => {
  it(
    "on random layer stacks (files, dirs, symlinks, hardlinks, whiteouts, opaque dirs, " +
      "type changes)",
    async () => {
      await fc.assert(
        // No chunk size: blobs in files, read on the worker thread (as unpack does); else streamed
        // from memory.
        fc.asyncProperty(
          anyStack,
          fc.constantFrom(undefined, 1, 61, 4096),
          fc.constantFrom("gzip" as const, "none" as const),
          async (stack, chunkSize, compression) => {
            const model = await modelOutcome(stack);
            const disk = await diskOutcome(stack, undefined, {
              ...(chunkSize === undefined ? {} : { chunkSize }),
              compression,
            });
            expect(same(model, disk)).toEqual([]);
          },
        ),
        { numRuns: 400 },
      );
    },
  );

  it("rootless: owners recorded, devices as empty files", async () => {
    const rootless = { privileged: false, uid: 0, gid: 0 };
    await fc.assert(
      fc.asyncProperty(anyStack, async (stack) => {
        expect(
          same(await modelOutcome(stack, rootless), await diskOutcome(stack, rootless)),
        ).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

// The merged-tree index (ls, cat, and later the layer store and export)
// reads headers only; with each file's bytes fetched back by (layer,
// ordinal) it must be the model's tree exactly.
describe("property: the merged-tree index equals the reference model", () => {
  it("on random layer stacks, file bytes read back from the entry each file names", async () => {
    await fc.assert(
      fc.asyncProperty(anyStack, async (stack) => {
        expect(same(await modelOutcome(stack), await mergedOutcome(stack))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});

describe("property: laws of ordering", () => {
  it("an empty layer changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(anyStack, fc.nat(), async (stack, at) => {
        const withEmpty = [...stack];
        withEmpty.splice(at % (stack.length + 1), 0, []);
        expect(same(await diskOutcome(stack), await diskOutcome(withEmpty))).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it("a layer that whites out everything and adds X equals an image of X alone", async () => {
    await fc.assert(
      fc.asyncProperty(anyStack, wellFormedLayer, fc.nat(), async (stack, x, at) => {
        const top: TarMember[] = [...x];
        top.splice(at % (x.length + 1), 0, { name: ".wh..wh..opq", type: "file" });
        const lower = await modelOutcome(stack);
        fc.pre(lower.ok);
        expect(same(await diskOutcome([...stack, top]), await diskOutcome([x]))).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it("unpacking is deterministic", async () => {
    await fc.assert(
      fc.asyncProperty(anyStack, async (stack) => {
        expect(
          same(await diskOutcome(stack), await diskOutcome(stack, undefined, { chunkSize: 13 })),
        ).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });

  it("the position of whiteouts inside a layer does not matter", async () => {
    await fc.assert(
      fc.asyncProperty(
        anyStack,
        wellFormedLayer,
        markers,
        fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
        async (stack, entries, marks, positions) => {
          const lower = await modelOutcome(stack);
          fc.pre(lower.ok);
          const first = [...marks, ...entries];
          const scattered = [...entries];
          marks.forEach((mark, i) =>
            scattered.splice((positions[i] ?? 0) % (scattered.length + 1), 0, mark),
          );
          const last = [...entries, ...marks];
          const a = await modelOutcome([...stack, first]);
          expect(same(a, await diskOutcome([...stack, scattered]))).toEqual([]);
          expect(same(a, await diskOutcome([...stack, last]))).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it(
    "a well-formed layer's entries may arrive in any order that keeps parents first " +
      "(shuffled tar order)",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          anyStack,
          wellFormedLayer,
          fc.array(fc.double({ noNaN: true }), { minLength: 40, maxLength: 40 }),
          async (stack, layer, keys) => {
            fc.pre((await modelOutcome(stack)).ok);
            const depth = (m: TarMember): number =>
              String(m.name).replace(/\/$/, "").split("/").length;
            const shuffled = layer
              .map((member, i) => ({ member, key: keys[i % keys.length] ?? 0 }))
              .sort((x, y) => depth(x.member) - depth(y.member) || x.key - y.key)
              .map((x) => x.member);
            expect(
              same(await modelOutcome([...stack, layer]), await diskOutcome([...stack, shuffled])),
            ).toEqual([]);
          },
        ),
        { numRuns: 50 },
      );
    },
  );
});
