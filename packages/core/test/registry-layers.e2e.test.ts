// Every command that reads a registry layer reads it as unpack does (#22,
// #24.5): downloaded ahead into a private temporary directory, read on the
// blob worker (ISA-L, hashing off the main thread) as it grows, the
// directory removed when the command ends, whichever way it ends.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cat, list } from "@strata-oci/core";
import { exportImage } from "@strata-oci/build";
import { writeOciLayout } from "@strata-oci/image";
import { blobWorkerPairsStarted, writeTar } from "@strata-oci/layer";
import { tempDir } from "../../../test/support/layers.js";
import {
  push,
  registryUnavailable,
  startRegistry,
  type TestRegistry,
} from "../../../test/support/registry.js";

const unavailable = registryUnavailable();
const work = tempDir("strata-registry-layers-");
const tmp = join(work.path, "tmp");
const big = randomBytes(3 << 20); // incompressible: the blob is over the worker's threshold
afterAll(() => work.remove());

describe.skipIf(unavailable !== undefined)("registry layers in ls, cat and export", () => {
  let registry: TestRegistry;
  let image = "";

  beforeAll(async () => {
    mkdirSync(join(work.path, "registry"));
    mkdirSync(tmp);
    registry = await startRegistry(join(work.path, "registry"));
    const layout = join(work.path, "layout");
    writeOciLayout(layout, {
      tag: "big",
      layers: [
        {
          tar: writeTar([
            { name: "etc/", type: "dir" },
            { name: "etc/a", type: "file", data: "a\n" },
          ]),
        },
        { tar: writeTar([{ name: "big.bin", type: "file", data: big }]) },
      ],
    });
    image = `docker://${registry.host}/strata/big:1`;
    await push(`oci:${layout}:big`, image);
    // The library's temporary files go where the test can see them.
    process.env.TMPDIR = tmp;
  }, 60_000);
  afterAll(() => registry?.stop());

  it("ls, cat and export read the registry's layers on the blob worker and leave nothing", async () => {
    expect(blobWorkerPairsStarted()).toBe(0);
    const listed = await list({ image, recursive: true });
    expect(listed.entries.map((e) => e.path)).toEqual(["", "big.bin", "etc", "etc/a"]);
    expect(blobWorkerPairsStarted()).toBeGreaterThan(0);
    expect(readdirSync(tmp)).toEqual([]);

    const hash = createHash("sha256");
    for await (const chunk of cat({ image, path: "/big.bin" })) hash.update(chunk);
    expect(hash.digest("hex")).toBe(createHash("sha256").update(big).digest("hex"));
    expect(readdirSync(tmp)).toEqual([]);

    let bytes = 0;
    for await (const chunk of exportImage({ image })) bytes += chunk.length;
    expect(bytes).toBeGreaterThan(big.length);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("an export abandoned half way removes its downloads too", async () => {
    for await (const _chunk of exportImage({ image })) break;
    expect(readdirSync(tmp)).toEqual([]);
  });
});
