import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./support/layers.js";

const work = tempDir("strata-fixture-");
afterAll(() => work.remove());

describe("fixtures", () => {
  it("the committed sample image is what fixtures/make-sample.mjs makes, byte for byte", () => {
    const out = join(work.path, "oci");
    execFileSync(process.execPath, ["fixtures/make-sample.mjs", out], { stdio: "ignore" });
    const committed = "fixtures/sample/oci";
    expect(readFileSync(join(out, "index.json"))).toEqual(
      readFileSync(join(committed, "index.json")),
    );
    expect(readdirSync(join(out, "blobs", "sha256")).sort()).toEqual(
      readdirSync(join(committed, "blobs", "sha256")).sort(),
    );
  });
});
