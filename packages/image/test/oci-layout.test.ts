import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeTar } from "@strata-oci/layer";
import { openImage, writeOciLayout } from "@strata-oci/image";
import { perTestDirs } from "../../../test/support/temp-dirs.js";

const dir = perTestDirs();

function put(layout: string, value: unknown): { digest: string; size: number } {
  const data = Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
  const hex = createHash("sha256").update(data).digest("hex");
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(layout, "blobs", "sha256", hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** A layout whose index.json is replaced by `index(manifestDescriptor)`. */
function layoutWithIndex(
  index: (manifest: { digest: string; size: number }, layout: string) => unknown,
): string {
  const layout = dir();
  writeOciLayout(layout, { layers: [{ tar: writeTar([{ name: "f", type: "file", data: "x" }]) }] });
  const original = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string; size: number }>;
  };
  const manifest = original.manifests[0];
  if (manifest === undefined) throw new Error("no manifest");
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify(index({ digest: manifest.digest, size: manifest.size }, layout)),
  );
  return layout;
}

/** An arm64/v8 image's manifest, its blobs copied into `layout`. */
function armManifest(layout: string): { digest: string; size: number } {
  const arm = dir();
  writeOciLayout(arm, {
    layers: [{ tar: writeTar([{ name: "arm", type: "file", data: "arm" }]) }],
    architecture: "arm64",
    configOverrides: { variant: "v8" },
  });
  cpSync(join(arm, "blobs"), join(layout, "blobs"), { recursive: true });
  const index = JSON.parse(readFileSync(join(arm, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string; size: number }>;
  };
  const manifest = index.manifests[0];
  if (manifest === undefined) throw new Error("no manifest");
  return { digest: manifest.digest, size: manifest.size };
}

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const INDEX = "application/vnd.oci.image.index.v1+json";
const ref = (tag: string) => ({ "org.opencontainers.image.ref.name": tag });

describe("OCI image layout", () => {
  it("takes the only manifest when no tag is given", async () => {
    const layout = dir();
    writeOciLayout(layout, { layers: [{ tar: writeTar([]) }], tag: "v1" });
    const image = await openImage({ image: `oci:${layout}` });
    expect(image.layers).toHaveLength(1);
  });

  it("picks a manifest by its ref.name tag and lists the tags when one is missing", async () => {
    const layout = layoutWithIndex((m) => ({
      schemaVersion: 2,
      manifests: [
        { mediaType: MANIFEST, ...m, annotations: ref("a") },
        { mediaType: MANIFEST, ...m, annotations: ref("b") },
      ],
    }));
    expect((await openImage({ image: `oci:${layout}:b` })).layers).toHaveLength(1);
    await expect(openImage({ image: `oci:${layout}:c` })).rejects.toMatchObject({
      code: "STRATA_MANIFEST_NOT_FOUND",
      hint: expect.stringContaining("a sha256:"),
    });
    await expect(openImage({ image: `oci:${layout}` })).rejects.toMatchObject({
      code: "STRATA_AMBIGUOUS_MANIFEST",
    });
  });

  it(
    "selects a platform from a nested index; aarch64 means arm64; the first " + "match wins",
    async () => {
      const layout = layoutWithIndex((m, layoutDir) => {
        const amd = { mediaType: MANIFEST, ...m, platform: { os: "linux", architecture: "amd64" } };
        const arm = {
          mediaType: MANIFEST,
          ...armManifest(layoutDir),
          platform: { os: "linux", architecture: "arm64", variant: "v8" },
        };
        return {
          schemaVersion: 2,
          manifests: [
            {
              mediaType: INDEX,
              ...put(layoutDir, { schemaVersion: 2, manifests: [amd, arm] }),
              annotations: ref("multi"),
            },
          ],
        };
      });
      expect(
        (await openImage({ image: `oci:${layout}:multi`, platform: "linux/aarch64" })).manifest
          ?.platform,
      ).toMatchObject({ architecture: "arm64" });
      expect(
        (await openImage({ image: `oci:${layout}:multi`, platform: "linux/x86_64" })).manifest
          ?.platform,
      ).toMatchObject({ architecture: "amd64" });
      expect(
        (await openImage({ image: `oci:${layout}:multi`, platform: "linux/arm64/v8" })).manifest
          ?.platform?.variant,
      ).toBe("v8");
      await expect(
        openImage({ image: `oci:${layout}:multi`, platform: "linux/s390x" }),
      ).rejects.toMatchObject({ code: "STRATA_MANIFEST_NOT_FOUND" });
      await expect(
        openImage({ image: `oci:${layout}:multi`, platform: "linux" }),
      ).rejects.toMatchObject({ code: "STRATA_BAD_REFERENCE" });
    },
  );

  // A document's own mediaType is a SHOULD (skopeo writes index.json
  // without one); a descriptor's is REQUIRED (skopeo and umoci refuse one
  // without it too: test/image-spec.test.ts).
  it(
    "reads manifests and indexes that have no mediaType field of their own; refuses " +
      "descriptors without one",
    async () => {
      let bareDescriptor: Record<string, unknown> = {};
      const layout = layoutWithIndex((m, layoutDir) => {
        const manifest = JSON.parse(
          readFileSync(join(layoutDir, "blobs", "sha256", m.digest.slice(7)), "utf8"),
        ) as Record<string, unknown>;
        delete manifest.mediaType;
        bareDescriptor = { ...put(layoutDir, manifest) };
        return { schemaVersion: 2, manifests: [{ mediaType: MANIFEST, ...bareDescriptor }] };
      });
      expect((await openImage({ image: layout })).layers).toHaveLength(1);
      writeFileSync(
        join(layout.replace(/^oci:/, ""), "index.json"),
        JSON.stringify({ schemaVersion: 2, manifests: [bareDescriptor] }),
      );
      await expect(openImage({ image: layout })).rejects.toMatchObject({
        code: "STRATA_BAD_IMAGE",
        message: expect.stringContaining("mediaType is REQUIRED") as unknown,
      });
    },
  );

  it("refuses index.json that is not JSON", async () => {
    const layout = layoutWithIndex(() => ({}));
    writeFileSync(join(layout, "index.json"), "{ nope");
    await expect(openImage({ image: `oci:${layout}` })).rejects.toMatchObject({
      code: "STRATA_BAD_IMAGE",
    });
  });

  it("refuses a manifest whose bytes do not match its digest", async () => {
    const layout = layoutWithIndex((m) => ({
      schemaVersion: 2,
      manifests: [{ mediaType: MANIFEST, ...m }],
    }));
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
      manifests: Array<{ digest: string }>;
    };
    const path = join(layout, "blobs", "sha256", index.manifests[0]?.digest.slice(7) ?? "");
    writeFileSync(path, readFileSync(path, "utf8").replace("schemaVersion", "schemaVersioN"));
    await expect(openImage({ image: `oci:${layout}` })).rejects.toMatchObject({
      code: "STRATA_DIGEST_MISMATCH",
    });
  });

  it(
    "refuses a config whose rootfs.type is not layers, or with fewer diff_ids " + "than layers",
    async () => {
      const a = dir();
      writeOciLayout(a, {
        layers: [{ tar: writeTar([]) }],
        configOverrides: { rootfs: { type: "snapshot", diff_ids: [] } },
      });
      await expect(openImage({ image: a })).rejects.toMatchObject({ code: "STRATA_BAD_IMAGE" });
      const b = dir();
      writeOciLayout(b, {
        layers: [{ tar: writeTar([]) }, { tar: writeTar([]) }],
        configOverrides: { rootfs: { type: "layers", diff_ids: [] } },
      });
      await expect(openImage({ image: b })).rejects.toMatchObject({ code: "STRATA_BAD_IMAGE" });
    },
  );

  it("reports a missing layer blob when the layer is opened", async () => {
    const layout = dir();
    const { layerDigests } = writeOciLayout(layout, { layers: [{ tar: writeTar([]) }] });
    rmSync(join(layout, "blobs", "sha256", layerDigests[0]?.slice(7) ?? ""));
    const image = await openImage({ image: layout });
    await expect(image.layers[0]?.open()).rejects.toMatchObject({ code: "STRATA_BLOB_NOT_FOUND" });
  });

  it("refuses a directory that is not a layout, and an unknown transport", async () => {
    await expect(openImage({ image: dir() })).rejects.toMatchObject({ code: "STRATA_BAD_IMAGE" });
    await expect(openImage({ image: "containers-storage:busybox" })).rejects.toMatchObject({
      code: "STRATA_BAD_REFERENCE",
    });
  });

  it(
    "#9: an explicit platform the chosen config does not have is refused; without one, the " +
      "mismatch is reported",
    async () => {
      const layout = dir();
      writeOciLayout(layout, { layers: [{ tar: writeTar([]) }], architecture: "s390x", tag: "t" });
      await expect(
        openImage({ image: `oci:${layout}:t`, platform: "linux/amd64" }),
      ).rejects.toMatchObject({ code: "STRATA_PLATFORM_MISMATCH" });
      expect((await openImage({ image: `oci:${layout}:t` })).platformMismatch).toContain(
        "linux/s390x",
      );
      expect(
        (await openImage({ image: `oci:${layout}:t`, platform: "linux/s390x" })).platformMismatch,
      ).toBeUndefined();
    },
  );

  it(
    "#9: a wanted variant must match; one tag on several manifests picks by platform, " +
      "not by order",
    async () => {
      const layout = layoutWithIndex((m, layoutDir) => {
        const arm = {
          mediaType: MANIFEST,
          ...armManifest(layoutDir),
          platform: { os: "linux", architecture: "arm64", variant: "v8" },
        };
        const amd = { mediaType: MANIFEST, ...m, platform: { os: "linux", architecture: "amd64" } };
        return {
          schemaVersion: 2,
          manifests: [
            { ...arm, annotations: ref("both") },
            { ...amd, annotations: ref("both") },
          ],
        };
      });
      expect(
        (await openImage({ image: `oci:${layout}:both`, platform: "linux/amd64" })).manifest
          ?.platform?.architecture,
      ).toBe("amd64");
      expect(
        (await openImage({ image: `oci:${layout}:both`, platform: "linux/arm64" })).manifest
          ?.platform?.architecture,
      ).toBe("arm64");
      await expect(
        openImage({ image: `oci:${layout}:both`, platform: "linux/arm64/v7" }),
      ).rejects.toMatchObject({ code: "STRATA_MANIFEST_NOT_FOUND" });
    },
  );
});
