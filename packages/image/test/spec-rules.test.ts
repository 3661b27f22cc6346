import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openImage, writeOciLayout } from "@strata-oci/image";
import { writeTar } from "@strata-oci/layer";

const root = mkdtempSync(join(tmpdir(), "strata-spec-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

type Json = Record<string, unknown>;

/** A one-layer layout whose manifest (and index.json entry) the test rewrites. */
function layout(edit: {
  manifest?: (m: Json) => Json;
  entry?: (e: Json) => Json;
  index?: (i: Json) => Json;
}): string {
  const dir = join(root, `l${n++}`);
  writeOciLayout(dir, {
    layers: [{ tar: writeTar([{ name: "f", type: "file", data: "x" }]) }],
    tag: "t",
  });
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: Json[];
  } & Json;
  let entry = index.manifests[0] as Json;
  if (edit.manifest !== undefined) {
    const original = JSON.parse(
      readFileSync(join(dir, "blobs", "sha256", (entry.digest as string).slice(7)), "utf8"),
    ) as Json;
    const data = Buffer.from(JSON.stringify(edit.manifest(original)));
    const hex = createHash("sha256").update(data).digest("hex");
    writeFileSync(join(dir, "blobs", "sha256", hex), data);
    entry = { ...entry, digest: `sha256:${hex}`, size: data.length };
  }
  if (edit.entry !== undefined) entry = edit.entry(entry);
  const next = edit.index?.({ ...index, manifests: [entry] }) ?? { ...index, manifests: [entry] };
  writeFileSync(join(dir, "index.json"), JSON.stringify(next));
  return `oci:${dir}:t`;
}

const INDEX = "application/vnd.oci.image.index.v1+json";

async function refusal(image: string): Promise<string> {
  const error = await openImage({ image }).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(error?.code, image).toBe("STRATA_BAD_IMAGE");
  return error?.message ?? "";
}

describe("image-spec rules, each a typed error that quotes the rule", () => {
  it("schemaVersion must be 2, in a manifest and in index.json", async () => {
    expect(await refusal(layout({ manifest: (m) => ({ ...m, schemaVersion: 1 }) }))).toContain(
      "schemaVersion MUST be 2",
    );
    expect(await refusal(layout({ index: ({ schemaVersion: _gone, ...rest }) => rest }))).toContain(
      "schemaVersion MUST be 2",
    );
  });

  it(
    "a document that is both an index and a manifest, or typed as one and shaped as the " +
      "other, is refused (CVE-2021-41190)",
    async () => {
      expect(await refusal(layout({ manifest: (m) => ({ ...m, manifests: [] }) }))).toContain(
        "CVE-2021-41190",
      );
      // The descriptor says index; the document is a manifest.
      expect(
        await refusal(
          layout({
            manifest: ({ mediaType: _m, ...m }) => m,
            entry: (e) => ({ ...e, mediaType: INDEX }),
          }),
        ),
      ).toContain("CVE-2021-41190");
    },
  );

  it("a manifest needs config and layers", async () => {
    expect(await refusal(layout({ manifest: ({ config: _c, ...m }) => m }))).toContain(
      "MUST have config and layers",
    );
    expect(await refusal(layout({ manifest: (m) => ({ ...m, layers: "none" }) }))).toContain(
      "MUST have config and layers",
    );
  });

  it("annotations map strings to strings, on documents and on descriptors", async () => {
    expect(
      await refusal(
        layout({
          manifest: (m) => ({ ...m, annotations: { "org.opencontainers.image.created": 2024 } }),
        }),
      ),
    ).toContain("annotations MUST be a map of string to string");
    expect(
      await refusal(
        layout({
          entry: (e) => ({ ...e, annotations: { "org.opencontainers.image.ref.name": "t", n: 1 } }),
        }),
      ),
    ).toContain("annotations MUST be a map of string to string");
  });

  it("descriptors need a well-formed digest and size", async () => {
    const digest = await openImage({
      image: layout({ entry: (e) => ({ ...e, digest: "sha256:abc" }) }),
    }).catch((e: { code: string }) => e.code);
    expect(digest).toBe("STRATA_BAD_IMAGE");
    expect(await refusal(layout({ entry: (e) => ({ ...e, size: -1 }) }))).toContain(
      "no valid size",
    );
  });

  it("a well-formed layout still opens", async () => {
    expect((await openImage({ image: layout({}) })).layers).toHaveLength(1);
  });
});

const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

describe("rules only a hostile image tried before (mutation gaps of #26)", () => {
  it(
    "a document whose own mediaType is not its descriptor's, both manifest types " +
      "(CVE-2021-41190): refused",
    async () => {
      expect(
        await refusal(layout({ entry: (e) => ({ ...e, mediaType: DOCKER_MANIFEST }) })),
      ).toContain("CVE-2021-41190");
      expect(
        await refusal(
          layout({
            manifest: (m) => ({ ...m, mediaType: DOCKER_MANIFEST }),
            entry: (e) => ({ ...e, mediaType: OCI_MANIFEST }),
          }),
        ),
      ).toContain("CVE-2021-41190");
    },
  );

  it(
    "an artifact without an artifactType is known by its config, or by layers none of which " +
      "is a layer",
    async () => {
      const helm = await openImage({
        image: layout({
          manifest: (m) => ({
            ...m,
            config: {
              ...(m.config as Json),
              mediaType: "application/vnd.cncf.helm.config.v1+json",
            },
          }),
        }),
      });
      expect(helm.details?.artifact).toContain("application/vnd.cncf.helm.config.v1+json");
      const layersOnly = await openImage({
        image: layout({
          manifest: (m) => ({
            ...m,
            layers: (m.layers as Json[]).map((l) => ({
              ...l,
              mediaType: "application/vnd.example.data",
            })),
          }),
        }),
      });
      expect(layersOnly.details?.artifact).toContain("application/vnd.example.data");
      const { openContainerImage } = await import("@strata-oci/core");
      await expect(
        openContainerImage({
          image: layout({
            manifest: (m) => ({
              ...m,
              config: {
                ...(m.config as Json),
                mediaType: "application/vnd.cncf.helm.config.v1+json",
              },
            }),
          }),
        }),
      ).rejects.toMatchObject({
        code: "STRATA_NOT_AN_IMAGE",
      });
    },
  );
});
