// Issue #22's round trips: every test image (OCI, Docker schema 2,
// multi-platform, zstd, an artifact with a subject) placed in every
// transport (oci:, oci-archive:, docker-archive:, docker:// on Debian's
// docker-registry), then copied from each to each. Blobs never change: the
// config's digest is the same everywhere (skopeo reads it back); the
// manifest's digest is the source's wherever nothing was converted (skopeo
// inspect --raw of the destination hashes to it); the tree is the same
// always; umoci unpacks each layout strata wrote to that tree. The table
// this prints is the one in the closing note.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unpack } from "@strata-oci/core";
import { copyImage, openImage, type CopyResult } from "@strata-oci/image";
import { diffSnapshots, snapshotDisk, type TreeSnapshot } from "@strata-oci/testing";
import { tempDir } from "../../../test/support/layers.js";
import { multiPlatformLayout, stackLayout, TRICKY } from "../../../test/support/test-images.js";
import { writeFullLayout } from "../../../test/support/spec-layouts.js";
import { umociUnavailable } from "../../../test/support/umoci.js";
import {
  registryUnavailable,
  startRegistry,
  type TestRegistry,
} from "../../../test/support/registry.js";

const unavailable = registryUnavailable();
const umoci = umociUnavailable() === undefined;
const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const work = tempDir("strata-round-trips-");
afterAll(() => work.remove());
let n = 0;
const fresh = (name: string): string => join(work.path, `${name}-${n++}`);

const TRANSPORTS = ["oci", "oci-archive", "docker-archive", "docker"] as const;
type Transport = (typeof TRANSPORTS)[number];

function skopeo(...args: string[]): string {
  const run = spawnSync("skopeo", args, { encoding: "latin1" });
  if (run.status !== 0) throw new Error(`skopeo ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

const sha = (bytes: string): string =>
  `sha256:${createHash("sha256").update(bytes, "latin1").digest("hex")}`;

describe.skipIf(unavailable !== undefined)("every image through every pair of transports", () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    mkdirSync(join(work.path, "registry-storage"));
    registry = await startRegistry(join(work.path, "registry-storage"));
  }, 60_000);
  afterAll(() => registry?.stop());

  /** A fresh place for an image in `transport`. */
  const placeIn = (transport: Transport, name: string): string => {
    const where = fresh(name);
    if (transport === "oci") return `oci:${where}:t`;
    if (transport === "oci-archive") return `oci-archive:${where}.tar:t`;
    if (transport === "docker-archive") return `docker-archive:${where}.tar:rt/${name}:t`;
    return `docker://${registry.host}/rt/${name}-${n++}:t`;
  };

  /** What skopeo reads there: the manifest's digest (none for an archive's made one), config's. */
  const skopeoSees = (reference: string): { manifest?: string; config: string } => {
    const tls = reference.startsWith("docker://") ? ["--tls-verify=false"] : [];
    const config = sha(skopeo("inspect", ...tls, "--config", "--raw", reference));
    if (reference.startsWith("docker-archive:")) return { config };
    return { manifest: sha(skopeo("inspect", ...tls, "--raw", reference)), config };
  };

  const treeOf = async (image: string, platform?: string): Promise<TreeSnapshot> => {
    const dest = fresh("tree");
    await unpack({ image, dest, ...(platform === undefined ? {} : { platform }) });
    return snapshotDisk(dest);
  };

  interface Case {
    readonly name: string;
    readonly image: () => Promise<string>;
    /** Holds no tree (an artifact): a docker-archive refuses it. */
    readonly artifact?: boolean;
    /** An index: copied whole (--all) where the destination holds indexes. */
    readonly index?: boolean;
  }

  const cases: Case[] = [
    { name: "oci", image: async () => SAMPLE },
    {
      name: "v2s2",
      image: async () => {
        const reference = `docker://${registry.host}/rt/v2s2-source:t`;
        await copyImage({ image: SAMPLE, destination: reference, format: "v2s2" });
        return reference;
      },
    },
    {
      name: "multi",
      index: true,
      image: async () => `oci:${multiPlatformLayout(fresh("m"))}:multi`,
    },
    { name: "zstd", image: async () => stackLayout(fresh("zstd"), TRICKY, "zstd") },
    {
      name: "artifact",
      artifact: true,
      image: async () => {
        const dir = fresh("full");
        writeFullLayout(dir);
        return `oci:${dir}:sbom`;
      },
    },
  ];

  const table: string[] = [];

  for (const item of cases) {
    it(`${item.name}: each transport to each, blobs kept, trees equal`, async () => {
      const canonical = await item.image();
      const tree = item.artifact === true ? undefined : await treeOf(canonical);
      const all = (to: Transport): boolean => item.index === true && to !== "docker-archive";
      const copy = (image: string, destination: string, to: Transport): Promise<CopyResult> =>
        copyImage({ image, destination, all: all(to) });
      for (const from of TRANSPORTS) {
        if (item.artifact === true && from === "docker-archive") {
          await expect(
            copy(canonical, placeIn(from, "refused"), from),
            "a docker-archive holds container images only",
          ).rejects.toMatchObject({ code: "STRATA_BAD_IMAGE" });
          table.push(`| ${item.name} | ${from} | (all) | refused: STRATA_BAD_IMAGE |`);
          continue;
        }
        const source = placeIn(from, `${item.name}-from-${from}`);
        await copy(canonical, source, from);
        const opened = await openImage({ image: source, anyPlatform: true });
        const sourceConfig = opened.configDigest;
        for (const to of TRANSPORTS) {
          const destination = placeIn(to, `${item.name}-${from}-to-${to}`);
          if (item.artifact === true && to === "docker-archive") {
            await expect(copy(source, destination, to)).rejects.toMatchObject({
              code: "STRATA_BAD_IMAGE",
            });
            table.push(`| ${item.name} | ${from} | ${to} | refused: STRATA_BAD_IMAGE |`);
            continue;
          }
          const result = await copy(source, destination, to);
          const seen = skopeoSees(destination);
          const sourceManifest = (opened.index?.descriptor ?? opened.manifest)?.digest;
          // A docker-archive source has no manifest blob: its made one is what is copied.
          const kept = !result.converted && from !== "docker-archive" && to !== "docker-archive";
          if (kept) expect(result.manifest.digest, `${from} -> ${to}`).toBe(sourceManifest);
          if (seen.manifest !== undefined)
            expect(seen.manifest, `${from} -> ${to}: skopeo`).toBe(result.manifest.digest);
          if (!all(to)) expect(seen.config, `${from} -> ${to}: config`).toBe(sourceConfig);
          if (tree !== undefined)
            expect(diffSnapshots(tree, await treeOf(destination)), `${from} -> ${to}`).toEqual([]);
          // umoci reads what strata wrote into a layout, to the same tree (Debian's umoci 0.4.7
          // reads no zstd layer, and unpacks one manifest, not an index).
          if (tree !== undefined && to === "oci" && umoci && item.name !== "zstd" && !item.index) {
            const bundle = fresh("umoci");
            const layout = destination.slice("oci:".length, -":t".length);
            const unpacked = spawnSync("umoci", ["unpack", "--image", `${layout}:t`, bundle], {
              encoding: "utf8",
            });
            expect(unpacked.status, unpacked.stderr).toBe(0);
            const byUmoci = snapshotDisk(join(bundle, "rootfs"));
            expect(diffSnapshots(tree, byUmoci), `umoci, ${from} -> oci`).toEqual([]);
          }
          table.push(
            `| ${item.name} | ${from} | ${to} | ${kept ? "digest kept" : result.converted ? "converted" : "made"}` +
              `${tree === undefined ? "" : ", same tree"} |`,
          );
        }
      }
    }, 120_000);
  }

  afterAll(() => {
    if (table.length > 0)
      console.log(
        ["| image | from | to | result |", "| --- | --- | --- | --- |", ...table].join("\n"),
      );
  });
});
