// Issue #26.9: platforms compared as containerd, go-containerregistry and skopeo compare them.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  normaliseVariant,
  openImage,
  parsePlatform,
  platformMatches,
  writeOciLayout,
} from "@strata-oci/image";
import { writeTar } from "@strata-oci/layer";
import { tempDir } from "../../../test/support/layers.js";

const work = tempDir("strata-platform-");
afterAll(() => work.remove());

describe("platforms", () => {
  it(
    "variants normalised: arm64's v8 is arm64, bare arm is v7, a number gets its v, amd64's " +
      "v1 is amd64",
    () => {
      const cases: Array<[string, string | undefined, string | undefined]> = [
        ["arm64", "v8", undefined],
        ["aarch64", "8", undefined],
        ["arm64", undefined, undefined],
        ["arm64", "v9", "v9"],
        ["arm", undefined, "v7"],
        ["arm", "6", "v6"],
        ["amd64", "v1", undefined],
        ["amd64", "v3", "v3"],
      ];
      for (const [arch, variant, normal] of cases)
        expect(normaliseVariant(arch, variant), `${arch}/${variant}`).toBe(normal);
      expect(
        platformMatches({ os: "linux", architecture: "arm64" }, parsePlatform("linux/arm64/v8")),
      ).toBe(true);
      expect(
        platformMatches(
          { os: "linux", architecture: "arm64", variant: "v8" },
          parsePlatform("linux/aarch64"),
        ),
      ).toBe(true);
      expect(
        platformMatches({ os: "linux", architecture: "arm" }, parsePlatform("linux/arm/v7")),
      ).toBe(true);
      expect(
        platformMatches(
          { os: "linux", architecture: "arm", variant: "v6" },
          parsePlatform("linux/arm/v7"),
        ),
      ).toBe(false);
      expect(
        platformMatches({ os: "linux", architecture: "amd64" }, parsePlatform("linux/arm64/v8")),
      ).toBe(false);
    },
  );

  /**
   * An index offering amd64 and arm64/v8 (buildah's way), whose arm64 config names no variant;
   * `armConfigArch` may disagree.
   */
  function buildahLike(armConfigArch = "arm64"): string {
    const dir = join(work.path, `buildah-${armConfigArch}`);
    const arm = join(work.path, `buildah-arm-${armConfigArch}`);
    writeOciLayout(dir, {
      layers: [{ tar: writeTar([{ name: "which", type: "file", data: "amd64" }]) }],
      architecture: "amd64",
    });
    writeOciLayout(arm, {
      layers: [{ tar: writeTar([{ name: "which", type: "file", data: "arm64" }]) }],
      architecture: armConfigArch,
    });
    const entry = (d: string) =>
      (
        JSON.parse(readFileSync(join(d, "index.json"), "utf8")) as {
          manifests: Array<Record<string, unknown>>;
        }
      ).manifests[0];
    for (const name of [
      entry(arm)?.digest as string,
      ...(
        JSON.parse(
          readFileSync(
            join(arm, "blobs", "sha256", (entry(arm)?.digest as string).slice(7)),
            "utf8",
          ),
        ) as { config: { digest: string }; layers: Array<{ digest: string }> }
      ).layers.map((l) => l.digest),
      (
        JSON.parse(
          readFileSync(
            join(arm, "blobs", "sha256", (entry(arm)?.digest as string).slice(7)),
            "utf8",
          ),
        ) as { config: { digest: string } }
      ).config.digest,
    ]) {
      writeFileSync(
        join(dir, "blobs", "sha256", name.slice(7)),
        readFileSync(join(arm, "blobs", "sha256", name.slice(7))),
      );
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { ...entry(dir), platform: { os: "linux", architecture: "amd64" } },
          { ...entry(arm), platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        ],
      }),
    );
    const hex = createHash("sha256").update(index).digest("hex");
    writeFileSync(join(dir, "blobs", "sha256", hex), index);
    writeFileSync(
      join(dir, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: "application/vnd.oci.image.index.v1+json",
            digest: `sha256:${hex}`,
            size: index.length,
            annotations: { "org.opencontainers.image.ref.name": "t" },
          },
        ],
      }),
    );
    return `oci:${dir}:t`;
  }

  it(
    "an index offering linux/arm64/v8 whose config names no variant: --platform " +
      "linux/arm64/v8, linux/arm64 and linux/aarch64 all open it",
    async () => {
      const image = buildahLike();
      for (const platform of ["linux/arm64/v8", "linux/arm64", "linux/aarch64"]) {
        const opened = await openImage({ image, platform });
        expect(opened.config.architecture, platform).toBe("arm64");
      }
    },
  );

  it(
    "a config that truly disagrees with the index's platform is still refused, and the hint " +
      "lists what the index offers",
    async () => {
      await expect(
        openImage({ image: buildahLike("s390x"), platform: "linux/arm64/v8" }),
      ).rejects.toMatchObject({
        code: "STRATA_PLATFORM_MISMATCH",
        hint: expect.stringContaining("linux/amd64, linux/arm64/v8") as unknown,
      });
    },
  );
});
