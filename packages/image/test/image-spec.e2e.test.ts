// Issue #14: every field of the image-spec, end to end. Layouts built here
// with nested indexes, platforms, annotations on every level, a full config
// and artifacts whose subject is the image; read by strata, skopeo and umoci;
// referrers from the layout and, through the tag-schema fallback, from
// Debian's docker-registry.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspect, referrers, unpack } from "@strata-oci/core";
import { tempDir } from "../../../test/support/layers.js";
import {
  push,
  pushBlob,
  pushManifest,
  registryUnavailable,
  startFaultProxy,
  startRegistry,
  type TestRegistry,
} from "../../../test/support/registry.js";
import {
  blob,
  descriptorOf,
  MANIFEST_ANNOTATIONS,
  OCI_INDEX,
  SIGNATURE,
  SPDX,
  writeFullLayout,
  type FullLayout,
} from "../../../test/support/spec-layouts.js";

const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");
const work = tempDir("strata-image-spec-");
afterAll(() => work.remove());
let full: FullLayout;
beforeAll(() => {
  full = writeFullLayout(join(work.path, "full"));
});

const has = (command: string): boolean =>
  spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
const strata = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

describe("inspect shows every field", () => {
  it(
    "in JSON: indexes with their platforms, manifest annotations, config " +
      "volumes/ports/labels/stop signal, history with empty steps",
    async () => {
      const summary = await inspect({ image: `oci:${full.dir}:app`, platform: "linux/amd64" });
      expect(summary.indexes.map((level) => level.where)).toEqual([
        "index.json",
        full.platforms.digest,
      ]);
      expect(summary.indexes[0]?.annotations).toEqual({
        "org.opencontainers.image.vendor": "strata tests",
      });
      expect(
        summary.indexes[0]?.manifests.find((m) => m.digest === full.sbom.digest)?.artifactType,
      ).toBe(SPDX);
      const offered = summary.indexes[1]?.manifests.map((m) => m.platform);
      expect(offered).toEqual([
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
        {
          os: "windows",
          architecture: "amd64",
          osVersion: "10.0.17763.5576",
          osFeatures: ["win32k"],
        },
      ]);
      expect(summary.indexes[1]?.annotations["org.opencontainers.image.url"]).toBe(
        "https://example.com/app",
      );
      expect(summary.manifest?.digest).toBe(full.manifest.digest);
      expect(summary.manifest?.annotations).toEqual(MANIFEST_ANNOTATIONS);
      expect(summary.manifest?.artifact).toBeUndefined();
      expect(summary.config).toMatchObject({
        mediaType: "application/vnd.oci.image.config.v1+json",
        created: "2026-11-01T10:00:00Z",
        author: "strata tests",
        volumes: ["/data", "/logs"],
        exposedPorts: ["53/udp", "8080/tcp"],
        labels: { "org.example.tier": "web", maintainer: "ops@example.com" },
        stopSignal: "SIGQUIT",
      });
      expect(summary.config.history.map((h) => [h.emptyLayer, h.layer, h.createdBy])).toEqual([
        [false, 0, "ADD app.conf /etc/"],
        [true, undefined, "ENV PATH=/usr/bin:/bin"],
        [true, undefined, 'CMD ["/bin/app"]'],
      ]);
      expect(summary.layers[0]?.annotations).toEqual({
        "org.opencontainers.image.title": "app.tar.gz",
      });
    },
  );

  it(
    "in text: each pre-defined annotation key in full, platforms with os.version and " +
      "os.features, steps without a layer marked",
    () => {
      const run = strata("inspect", "--platform", "linux/amd64", `oci:${full.dir}:app`);
      expect(run.status, run.stderr).toBe(0);
      for (const line of [
        "org.opencontainers.image.created: 2026-11-01T10:00:00Z",
        "org.opencontainers.image.source: https://example.com/app.git",
        "org.opencontainers.image.revision: 0123456789abcdef",
        "org.opencontainers.image.title: app",
        "windows/amd64 (os.version=10.0.17763.5576 os.features=win32k)",
        "linux/arm64/v8",
        "Volumes    /data, /logs",
        "ExposedPorts 53/udp, 8080/tcp",
        "StopSignal SIGQUIT",
        "org.example.tier=web",
        "history (3 steps, 2 without a layer)",
        "(empty)   2026-11-01T09:01:00Z  ENV PATH=/usr/bin:/bin",
        `artifactType=${SPDX}`,
      ]) {
        expect(run.stdout).toContain(line);
      }
      // Pre-defined keys come first, in the spec's order; others after.
      expect(run.stdout.indexOf("org.opencontainers.image.revision")).toBeLessThan(
        run.stdout.indexOf("com.example.team"),
      );
    },
  );

  it(
    "an artifact: inspect says what it is, with its subject; unpack and bundle refuse it " +
      "with STRATA_NOT_AN_IMAGE and leave nothing",
    async () => {
      const summary = await inspect({ image: `oci:${full.dir}:sbom` });
      expect(summary.manifest).toMatchObject({
        artifactType: SPDX,
        artifact: `an artifact of type ${SPDX}`,
        subject: { digest: full.manifest.digest },
      });
      const dest = join(work.path, "sbom-rootfs");
      await expect(unpack({ image: `oci:${full.dir}:sbom`, dest })).rejects.toMatchObject({
        code: "STRATA_NOT_AN_IMAGE",
        hint: expect.stringContaining("referrers") as unknown,
      });
      expect(existsSync(dest)).toBe(false);
      const bundle = strata("bundle", `oci:${full.dir}:sig`, join(work.path, "sig-bundle"));
      expect(bundle.status).toBe(1);
      expect(bundle.stderr).toContain("STRATA_NOT_AN_IMAGE");
      expect(existsSync(join(work.path, "sig-bundle"))).toBe(false);
    },
  );
});

describe("referrers of an image in an OCI layout", () => {
  it(
    "lists every manifest index.json reaches whose subject is the image's index or manifest, " +
      "filtered by artifact type",
    async () => {
      const found = await referrers({ image: `oci:${full.dir}:app`, platform: "linux/amd64" });
      expect(found.via).toBe("layout");
      expect(found.subjects).toEqual([full.platforms.digest, full.manifest.digest]);
      const listed = found.referrers
        .map((r) => [r.descriptor.digest, r.subject, r.descriptor.artifactType])
        .sort();
      expect(listed).toEqual(
        [
          [full.sbom.digest, full.manifest.digest, SPDX],
          [full.signature.digest, full.manifest.digest, SIGNATURE],
          [full.indexSignature.digest, full.platforms.digest, SIGNATURE],
        ].sort(),
      );
      // The signature reachable only through the `attached` index is found too, with its
      // annotations.
      expect(
        found.referrers.find((r) => r.descriptor.digest === full.signature.digest)?.descriptor
          .annotations,
      ).toEqual({ "dev.sigstore.cosign/signature": "MEUCIQ" });
      const sboms = await referrers({
        image: `oci:${full.dir}:app`,
        platform: "linux/amd64",
        artifactType: SPDX,
      });
      expect(sboms.referrers.map((r) => r.descriptor.digest)).toEqual([full.sbom.digest]);
      const cli = strata(
        "referrers",
        "--platform",
        "linux/arm64",
        "--artifact-type",
        SIGNATURE,
        `oci:${full.dir}:app`,
      );
      expect(cli.status, cli.stderr).toBe(0);
      // For arm64 only the index's signature refers to what was chosen.
      expect(cli.stdout).toContain(full.indexSignature.digest);
      expect(cli.stdout).not.toContain(full.signature.digest);
    },
  );
});

describe("referrers skip what belongs to other images (#26.10)", () => {
  it(
    "a manifest under another tag that breaks a rule is skipped with a warning; the image's " +
      "referrers are all found",
    async () => {
      const dir = join(work.path, "bad-tag");
      cpSync(full.dir, dir, { recursive: true });
      const bad = Buffer.from(
        JSON.stringify({
          schemaVersion: 1,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: {},
          layers: [],
        }),
      );
      const hex = createHash("sha256").update(bad).digest("hex");
      writeFileSync(join(dir, "blobs", "sha256", hex), bad);
      const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
        manifests: unknown[];
      };
      index.manifests.push({
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: `sha256:${hex}`,
        size: bad.length,
        annotations: { "org.opencontainers.image.ref.name": "broken" },
      });
      writeFileSync(join(dir, "index.json"), JSON.stringify(index));
      const found = await referrers({ image: `oci:${dir}:app`, platform: "linux/amd64" });
      expect(found.referrers).toHaveLength(3);
      expect(found.warnings).toEqual([expect.stringContaining(`sha256:${hex}`)]);
      const cli = strata("referrers", "--platform", "linux/amd64", `oci:${dir}:app`);
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.stderr).toContain(`warning: skipped sha256:${hex}`);
    },
  );
});

/** The amd64 manifest tagged directly (no nested index), rewritten by `edit` and re-tagged `t`. */
function variant(
  name: string,
  edit: {
    manifest?: (m: Record<string, unknown>) => Record<string, unknown>;
    entry?: (e: Record<string, unknown>) => Record<string, unknown>;
  },
): string {
  const dir = join(work.path, `variant-${name}`);
  cpSync(full.dir, dir, { recursive: true });
  let data = full.manifest.data;
  if (edit.manifest !== undefined)
    data = Buffer.from(
      JSON.stringify(edit.manifest(JSON.parse(data.toString()) as Record<string, unknown>)),
    );
  const hex = createHash("sha256").update(data).digest("hex");
  writeFileSync(join(dir, "blobs", "sha256", hex), data);
  let entry: Record<string, unknown> = {
    mediaType: full.manifest.mediaType,
    digest: `sha256:${hex}`,
    size: data.length,
    annotations: { "org.opencontainers.image.ref.name": "t" },
  };
  if (edit.entry !== undefined) entry = edit.entry(entry);
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry] }),
  );
  return dir;
}

describe.skipIf(!has("skopeo") || !has("umoci"))(
  "strata, skopeo and umoci on the same layouts",
  () => {
    it(
      "agree on the well-formed image: the raw index, the platform's manifest, " + "the history",
      async () => {
        const raw = spawnSync("skopeo", ["inspect", "--raw", `oci:${full.dir}:app`]);
        expect(raw.status).toBe(0);
        expect(`sha256:${createHash("sha256").update(raw.stdout).digest("hex")}`).toBe(
          full.platforms.digest,
        );
        // skopeo picks the host's platform (amd64 here) and copies that manifest byte for byte.
        const copy = join(work.path, "skopeo-copy");
        expect(
          spawnSync("skopeo", [
            "copy",
            "-q",
            "--override-arch",
            "amd64",
            `oci:${full.dir}:app`,
            `oci:${copy}:app`,
          ]).status,
        ).toBe(0);
        const copied = await inspect({ image: `oci:${copy}:app` });
        expect(copied.manifest?.digest).toBe(full.manifest.digest);
        expect(copied.manifest?.annotations).toEqual(MANIFEST_ANNOTATIONS);
        // umoci reads the same history; strata marks the same steps empty.
        const stat = spawnSync("umoci", ["stat", "--image", `${copy}:app`, "--json"], {
          encoding: "utf8",
        });
        expect(stat.status, stat.stderr).toBe(0);
        const history = (
          JSON.parse(stat.stdout) as {
            history: Array<{ created_by: string; empty_layer?: boolean }>;
          }
        ).history;
        expect(history.map((h) => [h.created_by, h.empty_layer === true])).toEqual(
          copied.config.history.map((h) => [h.createdBy, h.emptyLayer]),
        );
      },
    );

    // Each rule strata enforces, with what the peers do with the same layout
    // (skopeo copy to another layout; umoci unpack): strata refuses every one.
    const RULES: Array<[string, Parameters<typeof variant>[1], string]> = [
      [
        "schemaVersion 1",
        { manifest: (m) => ({ ...m, schemaVersion: 1 }) },
        "schemaVersion MUST be 2",
      ],
      [
        "index and manifest at once",
        { manifest: (m) => ({ ...m, manifests: [] }) },
        "CVE-2021-41190",
      ],
      [
        "descriptor says index, document is a manifest",
        { entry: (e) => ({ ...e, mediaType: OCI_INDEX }) },
        "CVE-2021-41190",
      ],
      [
        "manifest without config",
        { manifest: ({ config: _c, ...m }) => m },
        "MUST have config and layers",
      ],
      [
        "annotation that is a number",
        { manifest: (m) => ({ ...m, annotations: { count: 1 } }) },
        "annotations MUST be a map of string to string",
      ],
      [
        "index entry without mediaType",
        { entry: ({ mediaType: _m, ...e }) => e },
        "mediaType is REQUIRED",
      ],
      [
        "layer descriptor without mediaType",
        {
          manifest: (m) => ({
            ...m,
            layers: (m.layers as Array<Record<string, unknown>>).map(
              ({ mediaType: _m, ...l }) => l,
            ),
          }),
        },
        "mediaType is REQUIRED",
      ],
      ["index entry without digest", { entry: ({ digest: _d, ...e }) => e }, "digest is REQUIRED"],
      [
        "malformed digest",
        { entry: (e) => ({ ...e, digest: "sha256:abc" }) },
        "a digest is algorithm:encoded",
      ],
      ["negative size", { entry: (e) => ({ ...e, size: -1 }) }, "size is REQUIRED"],
    ];
    it(
      "refuse or accept the malformed variants: strata refuses each, " + "quoting the rule",
      async () => {
        const table: string[] = [];
        for (const [name, edit, rule] of RULES) {
          const dir = variant(name.replace(/\W+/g, "-"), edit);
          const error = await inspect({ image: `oci:${dir}:t` }).then(
            () => undefined,
            (e: unknown) => e as { code: string; message: string },
          );
          expect(error?.code, name).toBe("STRATA_BAD_IMAGE");
          expect(error?.message, name).toContain(rule);
          const skopeo =
            spawnSync("skopeo", ["copy", "-q", `oci:${dir}:t`, `oci:${dir}-copy:t`]).status === 0
              ? "accepts"
              : "refuses";
          const umoci =
            spawnSync("umoci", ["unpack", "--rootless", "--image", `${dir}:t`, `${dir}-umoci`])
              .status === 0
              ? "accepts"
              : "refuses";
          table.push(`${name}: strata refuses, skopeo ${skopeo}, umoci ${umoci}`);
        }
        console.log(`image-spec rules vs peers:\n  ${table.join("\n  ")}`);
      },
    );

    it(
      "a Docker layer type in an OCI manifest (the .NET SDK writes it) is accepted with a " +
        "warning naming the producer; umoci refuses it",
      async () => {
        const dir = variant("docker-layer-type", {
          manifest: (m) => ({
            ...m,
            layers: (m.layers as Array<Record<string, unknown>>).map((l) => ({
              ...l,
              mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
            })),
          }),
        });
        const warnings: string[] = [];
        await unpack({
          image: `oci:${dir}:t`,
          dest: join(work.path, "docker-layer-type-rootfs"),
          onWarning: (w) => warnings.push(`${w.kind}: ${w.detail}`),
        });
        expect(
          readFileSync(join(work.path, "docker-layer-type-rootfs", "etc", "app.conf"), "utf8"),
        ).toBe("port=8080\n");
        expect(warnings).toEqual([
          expect.stringMatching(/^spec-deviation: .*Docker layer media types.*dotnet\/sdk#48639/),
        ]);
        expect(
          spawnSync("umoci", ["unpack", "--rootless", "--image", `${dir}:t`, `${dir}-umoci`])
            .status,
        ).not.toBe(0);
      },
    );
  },
);

const unavailable = registryUnavailable();
describe.skipIf(unavailable !== undefined)(
  "referrers from a registry without the referrers API (tag-schema fallback)",
  () => {
    let registry: TestRegistry;
    beforeAll(async () => {
      mkdirSync(join(work.path, "registry"));
      registry = await startRegistry(join(work.path, "registry"));
    }, 60_000);
    afterAll(() => registry?.stop());

    it(
      "finds the artifacts listed in the sha256-HEX index, and refuses to " + "unpack one",
      async () => {
        const repo = "strata/app";
        await push(`oci:${full.dir}:app`, `docker://${registry.host}/${repo}:1`);
        // The referrers pushed as a tool without the referrers API does: the artifacts, then the
        // index tagged sha256-HEX.
        const byHex = new Map(full.blobs.map((b) => [b.digest, b]));
        for (const digest of [full.sbom.digest, full.signature.digest]) {
          const manifest = byHex.get(digest);
          if (manifest === undefined) throw new Error("missing");
          const parsed = JSON.parse(manifest.data.toString()) as {
            config: { digest: string };
            layers: Array<{ digest: string }>;
          };
          for (const part of [parsed.config, ...parsed.layers])
            await pushBlob(
              registry.host,
              repo,
              byHex.get(part.digest) as { digest: string; data: Buffer },
            );
          await pushManifest(registry.host, repo, digest, manifest);
        }
        const tagIndex = blob(OCI_INDEX, {
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: [
            descriptorOf(full.sbom, {
              artifactType: SPDX,
              annotations: { "org.example.tool": "syft" },
            }),
            descriptorOf(full.signature, { artifactType: SIGNATURE }),
          ],
        });
        await pushManifest(
          registry.host,
          repo,
          `sha256-${full.manifest.digest.slice(7)}`,
          tagIndex,
        );
        const found = await referrers({
          image: `docker://${registry.host}/${repo}:1`,
          platform: "linux/amd64",
        });
        expect(found.via).toBe("tag schema");
        expect(
          found.referrers.map((r) => [r.descriptor.digest, r.descriptor.artifactType]).sort(),
        ).toEqual(
          [
            [full.sbom.digest, SPDX],
            [full.signature.digest, SIGNATURE],
          ].sort(),
        );
        const sboms = strata(
          "referrers",
          "--json",
          "--platform",
          "linux/amd64",
          "--artifact-type",
          SPDX,
          `docker://${registry.host}/${repo}:1`,
        );
        expect(sboms.status, sboms.stderr).toBe(0);
        expect(
          (
            JSON.parse(sboms.stdout) as {
              referrers: Array<{
                descriptor: { digest: string; annotations: Record<string, string> };
              }>;
            }
          ).referrers,
        ).toEqual([
          expect.objectContaining({
            descriptor: expect.objectContaining({
              digest: full.sbom.digest,
              annotations: { "org.example.tool": "syft" },
            }) as unknown,
          }),
        ]);
        // A registry with the referrers API is asked through it (the tag is not read).
        const proxy = await startFaultProxy(registry.host);
        try {
          const api = blob(OCI_INDEX, {
            schemaVersion: 2,
            mediaType: OCI_INDEX,
            manifests: [descriptorOf(full.sbom, { artifactType: SPDX })],
          });
          proxy.faults = { referrers: new Map([[full.manifest.digest, api.data]]) };
          const viaApi = await referrers({
            image: `docker://${proxy.host}/${repo}:1`,
            platform: "linux/amd64",
            artifactType: SPDX,
          });
          expect(viaApi.via).toBe("referrers API");
          expect(viaApi.referrers.map((r) => r.descriptor.digest)).toEqual([full.sbom.digest]);
          expect(proxy.log.some((entry) => entry.path.includes("/manifests/sha256-"))).toBe(false);
        } finally {
          proxy.stop();
        }
        const dest = join(work.path, "registry-sbom");
        await expect(
          unpack({ image: `docker://${registry.host}/${repo}@${full.sbom.digest}`, dest }),
        ).rejects.toMatchObject({ code: "STRATA_NOT_AN_IMAGE" });
        expect(existsSync(dest)).toBe(false);
      },
    );
  },
);
