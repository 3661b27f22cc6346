// Issue #25: strata analyse's figures against an independent script
// (test/support/analyse-model.py: Python's tarfile and a dict of paths) on
// random layer stacks whose answer the script computes from the layer blobs,
// and on the sample image; and what holds by construction: each layer's file
// bytes are kept or wasted, nothing else.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { analyseImage, type ImageAnalysis } from "@strata-oci/core";
import type { TarMember } from "@strata-oci/layer";
import { writeStackImage } from "@strata-oci/testing";
import { tempDir } from "../../../test/support/layers.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const SAMPLE = join(ROOT, "fixtures", "sample", "oci");
const MODEL = join(ROOT, "test", "support", "analyse-model.py");
const work = tempDir("strata-analyse-");
afterAll(() => work.remove());
let n = 0;

/** The blobs of the layers of `oci:DIR:TAG`, in order. */
function layerBlobs(dir: string): string[] {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const blob = (digest: string): string => join(dir, "blobs", "sha256", digest.slice(7));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
  return manifest.layers.map((layer: { digest: string }) => blob(layer.digest));
}

function model(blobs: readonly string[]): { layers: unknown[]; totals: Record<string, number> } {
  const run = spawnSync("python3", [MODEL, ...blobs], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

/** The figures the script computes too. */
function figuresOf(analysis: ImageAnalysis): { layers: unknown[]; totals: Record<string, number> } {
  return {
    layers: analysis.layers.map((l) => ({
      entries: l.entries,
      added: l.added,
      changed: l.changed,
      removed: l.removed,
      whiteouts: l.whiteouts,
      fileBytes: l.fileBytes,
      keptBytes: l.keptBytes,
      wastedBytes: l.wastedBytes,
      tarBytes: l.tarBytes,
    })),
    totals: {
      fileBytes: analysis.totals.fileBytes,
      keptBytes: analysis.totals.keptBytes,
      wastedBytes: analysis.totals.wastedBytes,
      tarBytes: analysis.totals.tarBytes,
      entries: analysis.totals.entries,
    },
  };
}

const DIRS = ["a", "a/b", "c"];
const FILES = ["a/f1", "a/b/f2", "a/b/f3", "c/f4", "g", "h"];

/** One layer: each path at most once, parents before children, whiteouts and opaque markers. */
const anyLayer: fc.Arbitrary<TarMember[]> = fc
  .record({
    dirs: fc.array(
      fc.record({
        path: fc.constantFrom(...DIRS),
        op: fc.constantFrom("dir", "whiteout", "opaque"),
      }),
      { maxLength: 3 },
    ),
    files: fc.array(
      fc.record({
        path: fc.constantFrom(...FILES),
        op: fc.constantFrom("file", "file", "whiteout", "symlink", "hardlink"),
        size: fc.integer({ min: 0, max: 5000 }),
      }),
      { maxLength: 6 },
    ),
  })
  .map(({ dirs, files }) => {
    const taken = new Set<string>();
    const members: TarMember[] = [];
    const whiteout = (path: string): TarMember => {
      const cut = path.lastIndexOf("/");
      return { name: `${path.slice(0, cut + 1)}.wh.${path.slice(cut + 1)}`, type: "file" };
    };
    for (const { path, op } of dirs) {
      if (taken.has(path)) continue;
      taken.add(path);
      if (op === "dir") members.push({ name: `${path}/`, type: "dir" });
      else if (op === "opaque") members.push({ name: `${path}/.wh..wh..opq`, type: "file" });
      else members.push(whiteout(path));
    }
    const written: string[] = [];
    for (const { path, op, size } of files) {
      if (taken.has(path)) continue;
      taken.add(path);
      if (op === "file") {
        members.push({ name: path, type: "file", data: Buffer.alloc(size, 0x61) });
        written.push(path);
      } else if (op === "symlink") members.push({ name: path, type: "symlink", linkname: "x" });
      else if (op === "hardlink" && written.length > 0)
        members.push({ name: path, type: "hardlink", linkname: written[0] as string });
      else if (op === "whiteout") members.push(whiteout(path));
    }
    return members;
  });

describe("strata analyse: figures from headers", () => {
  it("equal the independent script's on random layer stacks; fileBytes = kept + wasted", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyLayer, { minLength: 1, maxLength: 5 }), async (layers) => {
        const dir = join(work.path, `stack-${n++}`);
        const image = writeStackImage(dir, layers, "t");
        const analysis = await analyseImage({ image });
        expect(figuresOf(analysis)).toEqual(model(layerBlobs(dir)));
        for (const layer of analysis.layers)
          expect(layer.keptBytes + layer.wastedBytes).toBe(layer.fileBytes);
        expect(analysis.totals.efficiency).toBeCloseTo(
          analysis.totals.fileBytes === 0
            ? 1
            : analysis.totals.keptBytes / analysis.totals.fileBytes,
        );
      }),
      { numRuns: 60 },
    );
  });

  it("the sample image: the script's figures, the largest wasted file and who hid it", async () => {
    // Each layer blob read once, to its end: the bytes read are the blobs' sizes.
    const read = new Map<number, number>();
    const starts: number[] = [];
    const analysis = await analyseImage({
      image: `oci:${SAMPLE}:sample`,
      onProgress: (event) => {
        if (event.kind === "layer-start") starts.push(event.index);
        if (event.kind === "bytes") read.set(event.index, event.read);
      },
    });
    expect(starts).toEqual([0, 1, 2]);
    expect([...read.values()]).toEqual(analysis.layers.map((l) => l.compressedBytes));
    expect(figuresOf(analysis)).toEqual(model(layerBlobs(SAMPLE)));
    const [largest] = analysis.largestWasted;
    expect(largest?.path.toString()).toBe("var/cache/big.cache");
    expect([largest?.layer, largest?.hiddenBy, largest?.how]).toEqual([0, 1, "removed"]);
    expect(analysis.repeated.map((r) => [r.path.toString(), r.layers])).toEqual([
      ["etc/os-release", [0, 1]],
    ]);
    expect(analysis.layers.map((l) => l.compressedBytes)).toEqual(
      layerBlobs(SAMPLE).map((blob) => readFileSync(blob).length),
    );
  });
});
