// Issue #12: the overlayfs layer store. The kernel's mount of the stored
// layers must show what strata's flat unpack of the same image writes, entry
// by entry, on random stacks and on every test image; images that share base
// layers share their directories.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { diffSnapshots, mountImage, snapshotDisk, unmountImage, unpack } from "@strata-oci/core";
import { anyStack, modelOutcome, tempDir, writeStackImage } from "@strata-oci/testing";

const work = tempDir("strata-store-");
afterAll(() => work.remove());
let n = 0;
const root = process.geteuid?.() === 0;
const mounted: string[] = [];
afterEach(() => {
  for (const target of mounted.splice(0)) spawnSync("umount", [target]);
});

/** IMAGE mounted from `store` (filled as needed) and unpacked flat: both trees. */
async function mountAndFlat(image: string, store: string): Promise<{ mount: string; flat: string }> {
  const mount = join(work.path, `mount-${n++}`);
  mkdirSync(mount);
  await mountImage({ image, store, target: mount });
  mounted.push(mount);
  const flat = join(work.path, `flat-${n++}`);
  await unpack({ image, dest: flat });
  return { mount, flat };
}

describe.runIf(root)("the layer store, mounted by the kernel, equals the flat unpack", () => {
  it("property: random layer stacks, kernel mount == flat unpack == model", async () => {
    const store = join(work.path, "store-property");
    await fc.assert(
      fc.asyncProperty(anyStack, async (layers) => {
        const model = await modelOutcome(layers);
        fc.pre(model.ok);
        const image = writeStackImage(join(work.path, `image-${n++}`), layers, "t");
        const { mount, flat } = await mountAndFlat(image, store);
        const kernel = snapshotDisk(mount);
        unmountImage({ target: mount, store });
        mounted.pop();
        expect(diffSnapshots(snapshotDisk(flat), kernel)).toEqual([]);
        expect(diffSnapshots(model.ok ? model.snapshot : new Map(), kernel)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
