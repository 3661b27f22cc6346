// Issue #12, item 4: the merged-tree index, built from the layers' headers,
// listed (`strata ls`) and read back one file at a time (`strata cat`)
// without unpacking; on every test image it must show what `strata unpack`
// writes, entry by entry and byte for byte.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exportImage, squash } from "@strata-oci/build";
import { cat, inspect, list, unpack, type ListedEntry } from "@strata-oci/core";
import type { TarMember } from "@strata-oci/layer";
import { diffSnapshots, snapshotDisk, type TreeSnapshot } from "@strata-oci/testing";
import fc from "fast-check";
import { anyStack } from "@strata-oci/testing";
import { tempDir } from "../../../test/support/layers.js";
import { stackLayout as stackLayoutIn, TRICKY } from "../../../test/support/test-images.js";

const SAMPLE = join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci");
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");
const work = tempDir("strata-merged-");
afterAll(() => work.remove());
const privileged = process.geteuid?.() === 0;
let n = 0;

async function bytesOf(image: string, path: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of cat({ image, path })) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/**
 * The listing compared field by field with the unpacked tree (owners only where unpack could set
 * them).
 */
function differences(listing: readonly ListedEntry[], disk: TreeSnapshot): string[] {
  const out: string[] = [];
  const listed = new Map(listing.map((e) => [Buffer.from(e.path).toString("latin1"), e]));
  for (const key of disk.keys()) if (!listed.has(key)) out.push(`${key}: on disk, not listed`);
  for (const [key, entry] of listed) {
    const node = disk.get(key);
    if (node === undefined) {
      out.push(`${key}: listed, not on disk`);
      continue;
    }
    const want = {
      kind: node.kind,
      mode: node.mode,
      mtime: node.mtime,
      size: node.size,
      target: node.target,
      ...(privileged ? { uid: node.uid, gid: node.gid } : {}),
    };
    const got = {
      kind: entry.kind,
      mode: entry.mode,
      mtime: Math.round(entry.mtime * 1000) / 1000,
      size: entry.kind === "file" ? entry.size : undefined,
      target: entry.target === undefined ? undefined : Buffer.from(entry.target).toString("latin1"),
      ...(privileged ? { uid: entry.uid, gid: entry.gid } : {}),
    };
    if (JSON.stringify(want) !== JSON.stringify(got))
      out.push(`${key}: disk ${JSON.stringify(want)}, listed ${JSON.stringify(got)}`);
  }
  return out;
}

/** ls -R and cat of every file against the tree unpack writes. */
async function expectSameAsUnpack(image: string): Promise<number> {
  const dest = join(work.path, `unpacked-${n++}`);
  await unpack({ image, dest });
  const disk = snapshotDisk(dest);
  const { entries } = await list({ image, recursive: true });
  expect(differences(entries, disk)).toEqual([]);
  let files = 0;
  for (const entry of entries) {
    if (entry.kind !== "file") continue;
    const bytes = await bytesOf(image, `/${entry.path}`);
    expect(`${entry.path}: ${createHash("sha256").update(bytes).digest("hex")}`).toBe(
      `${entry.path}: ${disk.get(Buffer.from(entry.path).toString("latin1"))?.sha256}`,
    );
    files++;
  }
  return files;
}

function stackLayout(
  layers: readonly TarMember[][],
  compression: "gzip" | "zstd" = "gzip",
): string {
  return stackLayoutIn(join(work.path, `stack-${n++}`), layers, compression);
}

describe("ls and cat without unpacking: the merged tree equals the unpacked one", () => {
  it("the sample image (symlinks, hardlinks, whiteouts across three layers)", async () => {
    expect(await expectSameAsUnpack(`oci:${SAMPLE}:sample`)).toBeGreaterThan(2);
  });

  it(
    "lower symlink parents, hardlinks to lower files, a whiteout and a new entry of one " +
      "name, implied parents, opaque dirs; gzip and zstd",
    async () => {
      for (const compression of ["gzip", "zstd"] as const)
        expect(await expectSameAsUnpack(stackLayout(TRICKY, compression))).toBe(7);
    },
  );

  it.runIf(spawnSync("sh", ["-c", "command -v skopeo"]).status === 0)(
    "a docker-archive tarball (skopeo's)",
    async () => {
      const archive = join(work.path, "sample.tar");
      expect(
        spawnSync("skopeo", [
          "copy",
          "-q",
          `oci:${SAMPLE}:sample`,
          `docker-archive:${archive}:strata/sample:1`,
        ]).status,
      ).toBe(0);
      expect(await expectSameAsUnpack(`docker-archive:${archive}`)).toBeGreaterThan(2);
    },
  );

  it(
    "cat resolves symlinks inside the image (absolute targets from its root, `..` stopping " +
      "there); refuses directories and missing paths",
    async () => {
      const image = stackLayout(TRICKY);
      expect((await bytesOf(image, "/lib/libm.so")).toString()).toBe("libm");
      expect((await bytesOf(image, "link-abs")).toString()).toBe("real\n");
      expect((await bytesOf(image, "/link-up")).toString()).toBe("real\n");
      expect((await bytesOf(image, "/etc/gone")).toString()).toBe("back");
      expect((await bytesOf(image, "/etc/real.hard")).toString()).toBe("real\n");
      await expect(bytesOf(image, "/var/cache/old")).rejects.toMatchObject({
        code: "STRATA_PATH_NOT_FOUND",
      });
      await expect(bytesOf(image, "/usr/lib")).rejects.toMatchObject({ code: "STRATA_NOT_A_FILE" });
      await expect(bytesOf(image, "/lib")).rejects.toMatchObject({ code: "STRATA_NOT_A_FILE" });
    },
  );

  it(
    "the CLI: ls -l style lines with the layer of each entry, -R, --json; cat to stdout; " +
      "typed errors",
    () => {
      const image = stackLayout(TRICKY);
      const ls = spawnSync(process.execPath, [BIN, "ls", image, "/etc"], { encoding: "utf8" });
      expect(ls.status, ls.stderr).toBe(0);
      const lines = ls.stdout.trim().split("\n");
      expect(lines.map((line) => line.split(/\s+/).at(-1))).toEqual([
        "/etc/gone",
        "/etc/real.conf",
        "/etc/real.hard",
      ]);
      expect(lines[0]).toMatch(/^-rw-r--r-- 0\/0 +4 \d{4}-\d\d-\d\d \d\d:\d\d L1 +\/etc\/gone$/);
      expect(lines[1]).toMatch(/ L0 +\/etc\/real.conf$/);
      const recursive = spawnSync(process.execPath, [BIN, "ls", "-R", image, "/opt"], {
        encoding: "utf8",
      });
      expect(recursive.stdout).toMatch(/^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 - +\/opt\n/);
      expect(recursive.stdout).toContain("-rwxr-xr-x");
      const viaLink = spawnSync(process.execPath, [BIN, "ls", "--json", image, "/lib"], {
        encoding: "utf8",
      });
      expect(
        (JSON.parse(viaLink.stdout) as { entries: ListedEntry[] }).entries.map((e) => e.path),
      ).toEqual(["usr/lib/libc.so", "usr/lib/libm.so"]);
      const catted = spawnSync(process.execPath, [BIN, "cat", image, "/link-abs"]);
      expect(catted.status).toBe(0);
      expect(catted.stdout.toString()).toBe("real\n");
      const missing = spawnSync(process.execPath, [BIN, "cat", image, "/nope"], {
        encoding: "utf8",
      });
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain("STRATA_PATH_NOT_FOUND");
      expect(existsSync(join(work.path, "nope"))).toBe(false);
    },
  );
});

async function exported(image: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of exportImage({ image })) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

// Issue #13, item 2: export is the merged tree as one tar; GNU tar extracts
// it to the tree unpack writes.
describe("export: the merged tree as one tar stream", () => {
  const images = (): string[] => [
    `oci:${SAMPLE}:sample`,
    stackLayout(TRICKY),
    stackLayout(TRICKY, "zstd"),
  ];

  it(
    "extracted by GNU tar, it is the tree strata unpack writes (owners too, as root); the " +
      "same image gives the same bytes",
    async () => {
      for (const image of images()) {
        const tar = await exported(image);
        expect(tar.equals(await exported(image)), image).toBe(true);
        const file = join(work.path, `export-${n++}.tar`);
        writeFileSync(file, tar);
        const extracted = join(work.path, `extracted-${n++}`);
        mkdirSync(extracted);
        const run = spawnSync(
          "tar",
          ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", file, "-C", extracted],
          { encoding: "utf8" },
        );
        expect(run.status, run.stderr).toBe(0);
        const dest = join(work.path, `unpacked-${n++}`);
        await unpack({ image, dest });
        // Without root GNU tar cannot give files away; xattrs it may not set either.
        const ignore = new Set<"uid" | "gid" | "xattrs">(
          privileged ? [] : ["uid", "gid", "xattrs"],
        );
        expect(diffSnapshots(snapshotDisk(dest), snapshotDisk(extracted), ignore), image).toEqual(
          [],
        );
      }
    },
  );

  it(
    "the CLI writes FILE whole (renamed into place), or stdout with -o - or when stdout is " +
      "redirected (a terminal is refused: pipes.e2e.test.ts)",
    () => {
      const image = `oci:${SAMPLE}:sample`;
      const file = join(work.path, "cli-export.tar");
      const run = spawnSync(process.execPath, [BIN, "export", image, "-o", file], {
        encoding: "utf8",
      });
      expect(run.status, run.stderr).toBe(0);
      const piped = spawnSync(process.execPath, [BIN, "export", "-o", "-", image]);
      expect(piped.status).toBe(0);
      expect(piped.stdout.equals(readFileSync(file))).toBe(true);
      const listing = spawnSync("tar", ["-tvf", file], { encoding: "utf8" });
      expect(listing.stdout).toMatch(/ usr\/bin\/hello\n/);
      const unsaid = spawnSync(process.execPath, [BIN, "export", image]);
      expect(unsaid.status).toBe(0);
      expect(unsaid.stdout.equals(readFileSync(file))).toBe(true);
      const missing = spawnSync(
        process.execPath,
        [BIN, "export", `oci:${SAMPLE}:nope`, "-o", join(work.path, "nope.tar")],
        { encoding: "utf8" },
      );
      expect(missing.status).toBe(1);
      expect(existsSync(join(work.path, "nope.tar"))).toBe(false);
    },
  );
});

describe("property: export(image) extracted by GNU tar equals unpack(image)", () => {
  it(
    "on random layer stacks (whiteouts, opaque dirs, type changes, symlinks, " +
      "hardlinks, xattrs)",
    async () => {
      await fc.assert(
        fc.asyncProperty(anyStack, async (stack) => {
          const image = stackLayout(stack.map((layer) => [...layer]));
          const dest = join(work.path, `prop-unpacked-${n++}`);
          const unpacked = await unpack({ image, dest }).then(
            () => true,
            () => false,
          );
          // Stacks the changeset rules refuse (a hardlink to nothing, a loop) are refused by export
          // too.
          if (!unpacked) {
            await expect(exported(image)).rejects.toMatchObject({
              code: expect.stringMatching(/^STRATA_/) as unknown,
            });
            return;
          }
          const file = join(work.path, `prop-${n++}.tar`);
          writeFileSync(file, await exported(image));
          const extracted = join(work.path, `prop-extracted-${n++}`);
          mkdirSync(extracted);
          const run = spawnSync(
            "tar",
            ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", file, "-C", extracted],
            { encoding: "utf8" },
          );
          expect(run.status, run.stderr).toBe(0);
          const ignore = new Set<"uid" | "gid" | "xattrs">(
            privileged ? [] : ["uid", "gid", "xattrs"],
          );
          expect(diffSnapshots(snapshotDisk(dest), snapshotDisk(extracted), ignore)).toEqual([]);
        }),
        { numRuns: 60 },
      );
    },
  );
});

async function treeOf(image: string): Promise<TreeSnapshot> {
  const dest = join(work.path, `tree-${n++}`);
  await unpack({ image, dest });
  return snapshotDisk(dest);
}

// Issue #13, item 2: squash is export as a one-layer image.
describe("squash: the image as one layer, unpacking to the same tree", () => {
  it(
    "strata and umoci unpack the squashed image to the tree of the original; digests are " +
      "reproducible; other tags stay",
    async () => {
      const umoci = spawnSync("sh", ["-c", "command -v umoci"]).status === 0;
      for (const image of [`oci:${SAMPLE}:sample`, stackLayout(TRICKY)]) {
        const layout = join(work.path, `squashed-${n++}`);
        const first = await squash({ image, destination: `oci:${layout}:one` });
        const again = await squash({ image, destination: `oci:${layout}:two`, compress: "none" });
        expect(first.squashed).toBeGreaterThan(1);
        const original = await treeOf(image);
        expect(diffSnapshots(original, await treeOf(`oci:${layout}:one`)), image).toEqual([]);
        expect(diffSnapshots(original, await treeOf(`oci:${layout}:two`)), image).toEqual([]);
        const zstd = await squash({ image, destination: `oci:${layout}:three`, compress: "zstd" });
        expect(zstd.layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+zstd");
        expect(zstd.layer.diffId).toBe(again.layer.diffId);
        expect(diffSnapshots(original, await treeOf(`oci:${layout}:three`)), image).toEqual([]);
        expect(
          (
            await squash({
              image,
              destination: `oci:${join(work.path, `squashed-${n++}`)}:three`,
              compress: "zstd",
            })
          ).layer.digest,
        ).toBe(zstd.layer.digest);
        // The reference decoder reads the blob back to the tar whose digest is the diff_id.
        const zstdTool = spawnSync(
          "zstd",
          ["-dc", join(layout, "blobs", "sha256", zstd.layer.digest.slice(7))],
          { maxBuffer: 1 << 30 },
        );
        expect(zstdTool.status, zstdTool.stderr?.toString()).toBe(0);
        expect(`sha256:${createHash("sha256").update(zstdTool.stdout).digest("hex")}`).toBe(
          zstd.layer.diffId,
        );
        const summary = await inspect({ image: `oci:${layout}:one` });
        expect(summary.layers).toHaveLength(1);
        expect(summary.config.history).toEqual([
          expect.objectContaining({
            createdBy: `strata squash ${image}`,
            emptyLayer: false,
            layer: 0,
          }),
        ]);
        expect(again.layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar");
        expect((await inspect({ image: `oci:${layout}:two` })).layers[0]?.digest).toBe(
          again.layer.digest,
        );
        // The same image, squashed into another layout, gives the same manifest.
        const elsewhere = await squash({ image, destination: join(work.path, `squashed-${n++}`) });
        expect(elsewhere.manifest.digest).toBe(first.manifest.digest);
        expect(elsewhere.destination).toMatch(/:squashed$/);
        if (umoci) {
          const bundle = join(work.path, `umoci-squashed-${n++}`);
          const run = spawnSync(
            "umoci",
            ["unpack", ...(privileged ? [] : ["--rootless"]), "--image", `${layout}:one`, bundle],
            { encoding: "utf8" },
          );
          expect(run.status, run.stderr).toBe(0);
          const ignore = new Set<"uid" | "gid" | "xattrs">(
            privileged ? [] : ["uid", "gid", "xattrs"],
          );
          expect(
            diffSnapshots(original, snapshotDisk(join(bundle, "rootfs")), ignore),
            `umoci on ${image}`,
          ).toEqual([]);
        }
      }
    },
  );

  it("sourceDateEpoch sets the config's times; the library ignores SOURCE_DATE_EPOCH", async () => {
    const layout = join(work.path, `epoch-${n++}`);
    const unset = join(work.path, `epoch-${n++}`);
    process.env.SOURCE_DATE_EPOCH = "1";
    try {
      await squash({
        image: `oci:${SAMPLE}:sample`,
        destination: layout,
        sourceDateEpoch: 1700000000,
      });
      await squash({ image: `oci:${SAMPLE}:sample`, destination: unset });
    } finally {
      delete process.env.SOURCE_DATE_EPOCH;
    }
    const original = await inspect({ image: `oci:${SAMPLE}:sample` });
    expect((await inspect({ image: `oci:${unset}:squashed` })).config.created).toBe(
      original.config.created,
    );
    const summary = await inspect({ image: `oci:${layout}:squashed` });
    expect(summary.config.created).toBe("2023-11-14T22:13:20.000Z");
    expect(summary.config.history[0]?.created).toBe("2023-11-14T22:13:20.000Z");
  });

  it("property: on random layer stacks, squash(image) unpacks to unpack(image)", async () => {
    await fc.assert(
      fc.asyncProperty(anyStack, async (stack) => {
        const image = stackLayout(stack.map((layer) => [...layer]));
        const original = await treeOf(image).then(
          (tree) => tree,
          () => undefined,
        );
        fc.pre(original !== undefined);
        const layout = join(work.path, `prop-squashed-${n++}`);
        await squash({ image, destination: layout });
        expect(
          diffSnapshots(original as TreeSnapshot, await treeOf(`oci:${layout}:squashed`)),
        ).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});
