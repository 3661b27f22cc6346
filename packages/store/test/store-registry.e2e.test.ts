// unpack --store of a registry image reads its layers as unpack does (#22,
// #24.5): those the store lacks download ahead and are read on the blob
// worker; those it has are not downloaded at all; nothing stays in the
// store's staging directory.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "@strata-oci/image";
import { blobWorkerPairsStarted, writeTar } from "@strata-oci/layer";
import { unpackToStore } from "@strata-oci/store";
import { tempDir } from "../../../test/support/layers.js";
import {
  push,
  registryUnavailable,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type TestRegistry,
} from "../../../test/support/registry.js";

const unavailable = registryUnavailable();
const work = tempDir("strata-store-registry-");
afterAll(() => work.remove());

describe.skipIf(unavailable !== undefined)("the store from a registry", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;

  beforeAll(async () => {
    mkdirSync(join(work.path, "registry"));
    registry = await startRegistry(join(work.path, "registry"));
    proxy = await startFaultProxy(registry.host);
    const base = {
      tar: writeTar([{ name: "base.bin", type: "file", data: randomBytes(2 << 20) }]),
    };
    const top = (name: string) => ({
      tar: writeTar([{ name, type: "file", data: randomBytes(2 << 20) }]),
    });
    writeOciLayout(join(work.path, "one"), { tag: "t", layers: [base, top("one.bin")] });
    writeOciLayout(join(work.path, "two"), { tag: "t", layers: [base, top("two.bin")] });
    await push(`oci:${join(work.path, "one")}:t`, `docker://${registry.host}/s/one:1`);
    await push(`oci:${join(work.path, "two")}:t`, `docker://${registry.host}/s/two:1`);
  }, 60_000);
  afterAll(() => registry?.stop());

  it("downloads only the layers the store lacks, on the blob worker, and leaves no staging", async () => {
    const store = join(work.path, "store");
    const blobGets = (): string[] =>
      proxy.log.filter((r) => r.path.includes("/blobs/sha256:")).map((r) => r.path);
    const first = await unpackToStore({ image: `docker://${proxy.host}/s/one:1`, store });
    expect(first.written).toBe(2);
    expect(blobWorkerPairsStarted()).toBeGreaterThan(0);
    const before = blobGets().length;
    const second = await unpackToStore({ image: `docker://${proxy.host}/s/two:1`, store });
    expect([second.written, second.reused]).toEqual([1, 1]);
    // The config and the one new layer: the shared base is not fetched again.
    expect(blobGets().length - before).toBe(2);
    expect(readdirSync(join(store, "staging"))).toEqual([]);
  });
});
