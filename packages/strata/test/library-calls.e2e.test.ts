// The library on par with the command (#23.5): every long call of the
// package users install takes an AbortSignal (a signal aborted before the
// call ends it with STRATA_ABORTED) and an onProgress that is told as it
// goes; every error class of the packages behind it is exported from it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as strata from "@strata-oci/strata";
import * as build from "@strata-oci/build";
import * as bundlePackage from "@strata-oci/bundle";
import * as core from "@strata-oci/core";
import * as errors from "@strata-oci/errors";
import * as image from "@strata-oci/image";
import * as layer from "@strata-oci/layer";
import * as merge from "@strata-oci/merge";
import * as store from "@strata-oci/store";
import { tempDir } from "../../../test/support/layers.js";

const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const work = tempDir("strata-library-");
afterAll(() => work.remove());
let n = 0;
const fresh = (name: string): string => join(work.path, `${name}-${n++}`);

async function drain(chunks: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of chunks);
}

/** Each long call, run with the signal and a progress callback that records event kinds. */
const CALLS: ReadonlyArray<
  readonly [string, (signal: AbortSignal, onProgress: (e: { kind: string }) => void) => unknown]
> = [
  [
    "unpack",
    (signal, onProgress) => strata.unpack({ image: SAMPLE, dest: fresh("u"), signal, onProgress }),
  ],
  [
    "unpackToStore",
    (signal, onProgress) =>
      strata.unpackToStore({ image: SAMPLE, store: fresh("store"), signal, onProgress }),
  ],
  [
    "exportImage",
    (signal, onProgress) => drain(strata.exportImage({ image: SAMPLE, signal, onProgress })),
  ],
  [
    "squash",
    (signal, onProgress) =>
      strata.squash({ image: SAMPLE, destination: fresh("squashed"), signal, onProgress }),
  ],
  [
    "repack",
    async (signal, onProgress) => {
      const rootfs = fresh("rootfs");
      await strata.unpack({ image: SAMPLE, dest: rootfs });
      writeFileSync(join(rootfs, "added"), "x");
      return strata.repack({
        image: SAMPLE,
        rootfs,
        destination: fresh("repacked"),
        signal,
        onProgress,
      });
    },
  ],
  [
    "diffTrees",
    (signal, onProgress) => {
      const [lower, upper] = [fresh("lower"), fresh("upper")];
      mkdirSync(lower);
      mkdirSync(upper);
      writeFileSync(join(upper, "new"), "x");
      return drain(strata.diffTrees({ lower, upper, signal, onProgress }));
    },
  ],
  ["listing", (signal, onProgress) => strata.listing({ image: SAMPLE, signal, onProgress })],
  [
    "cat",
    (signal, onProgress) =>
      drain(strata.cat({ image: SAMPLE, path: "/etc/passwd", signal, onProgress })),
  ],
  [
    "copyImage",
    (signal, onProgress) =>
      strata.copyImage({
        image: SAMPLE,
        destination: `oci:${fresh("copied")}:c`,
        signal,
        onProgress: (event) => onProgress({ kind: `blob ${event.digest.slice(0, 7)}` }),
      }),
  ],
];

describe("the library's long calls", () => {
  it.each(CALLS)("%s tells its progress, and ends on an aborted signal", async (_name, call) => {
    const kinds = new Set<string>();
    await call(new AbortController().signal, (event) => kinds.add(event.kind));
    expect(kinds.size).toBeGreaterThan(0);
    const aborted = AbortSignal.abort(new Error("stop"));
    await expect(Promise.resolve().then(() => call(aborted, () => {}))).rejects.toMatchObject({
      code: "STRATA_ABORTED",
    });
  });
});

describe("the package users install", () => {
  it("exports every error class of the packages behind it", () => {
    const exported = new Set(Object.values(strata));
    const missing: string[] = [];
    for (const [name, module] of Object.entries({
      build,
      bundlePackage,
      core,
      errors,
      image,
      layer,
      merge,
      store,
    })) {
      for (const [key, value] of Object.entries(module))
        if (
          typeof value === "function" &&
          (value === errors.StrataError || value.prototype instanceof errors.StrataError) &&
          !exported.has(value)
        )
          missing.push(`${name}.${key}`);
    }
    expect(missing).toEqual([]);
    expect(strata.StrataError).toBe(errors.StrataError);
  });
});
