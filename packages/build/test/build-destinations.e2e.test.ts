// Issue #22: squash and repack write through the destinations copy writes
// to: a layout, an oci-archive, a docker-archive, a registry (Debian's
// docker-registry on loopback), or a destination of the caller's own. The
// same image gives the same digests wherever it goes; a repack onto a
// Docker schema-2 base writes one family (OCI) and mounts the base's layers
// from their repository; a new layer bound for a registry is spooled in
// $TMPDIR and nothing of it stays there, whether the push works or not.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { squash } from "@strata-oci/build";
import { unpack } from "@strata-oci/core";
import type { BlobBody, Descriptor, ImageDestination } from "@strata-oci/image";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";
import { tempDir } from "../../../test/support/layers.js";
import { checkedResult } from "../../../test/support/result-schema.js";
import {
  registryUnavailable,
  startOpenAndLocked,
  type TestRegistry,
} from "../../../test/support/registry.js";

const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
const OCI_LAYER = /^application\/vnd\.oci\.image\.layer\.v1\.tar(\+gzip|\+zstd)?$/;
const work = tempDir("strata-build-dest-");
afterAll(() => work.remove());
let n = 0;
const fresh = (name: string): string => join(work.path, `${name}-${n++}`);

async function tree(image: string): Promise<ReturnType<typeof snapshotDisk>> {
  const dest = fresh("tree");
  await unpack({ image, dest });
  return snapshotDisk(dest);
}

function run(command: string, args: string[], env: Record<string, string> = {}) {
  const done = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, ...env } });
  return { status: done.status, stdout: done.stdout, stderr: done.stderr };
}

/** `work` with TMPDIR set to a fresh directory; that directory's entries afterwards. */
async function inTmpdir<T>(work: (dir: string) => Promise<T>): Promise<[T, string[]]> {
  const dir = fresh("tmpdir");
  mkdirSync(dir);
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return [await work(dir), readdirSync(dir)];
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

describe("squash into a destination of the caller's own", () => {
  it("takes the new layer by putBlob, its digest and size checked, config and manifest after", async () => {
    const blobs = new Map<string, Buffer>();
    const order: string[] = [];
    const read = async (body: BlobBody): Promise<Buffer> => {
      if (Buffer.isBuffer(body)) return body;
      const chunks: Buffer[] = [];
      for await (const chunk of (await body.open()) as AsyncIterable<Buffer>) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    const keep = async (descriptor: Descriptor, body: BlobBody): Promise<void> => {
      const bytes = await read(body);
      expect(bytes.length).toBe(descriptor.size);
      expect(`sha256:${createHash("sha256").update(bytes).digest("hex")}`).toBe(descriptor.digest);
      blobs.set(descriptor.digest, bytes);
    };
    let tagged: Descriptor | undefined;
    const mine: ImageDestination = {
      name: "memory:",
      documents: "oci",
      hasBlob: async (descriptor) => blobs.has(descriptor.digest),
      putBlob: async (descriptor, body) => {
        order.push(`blob ${descriptor.mediaType}`);
        await keep(descriptor, body);
      },
      putManifest: async (descriptor, body) => {
        order.push("manifest");
        await keep(descriptor, body);
      },
      tag: async (descriptor) => {
        order.push("tag");
        tagged = descriptor;
      },
    };
    const [result, left] = await inTmpdir(() => squash({ image: SAMPLE, destination: mine }));
    expect(left).toEqual([]);
    expect(order).toEqual([
      "blob application/vnd.oci.image.layer.v1.tar+gzip",
      "blob application/vnd.oci.image.config.v1+json",
      "manifest",
      "tag",
    ]);
    expect(tagged?.digest).toBe(result.manifest.digest);
    const manifest = JSON.parse((blobs.get(result.manifest.digest) as Buffer).toString());
    expect(manifest.layers[0].digest).toBe(result.layer.digest);
    expect(blobs.has(manifest.config.digest)).toBe(true);
    // The same image squashed into a layout: the same manifest, byte for byte.
    const layout = await squash({ image: SAMPLE, destination: fresh("layout") });
    expect(layout.manifest.digest).toBe(result.manifest.digest);
  });
});

describe("a destination without a known transport is a layout DIR[:TAG], unless misspelt", () => {
  it("docker-archve:FILE is refused naming docker-archive:, before anything is written; DIR:TAG is a layout", async () => {
    const here = fresh("typos");
    mkdirSync(here);
    for (const [typo, meant] of [
      ["docker-archve", "docker-archive"],
      ["dokcer-archive", "docker-archive"],
      ["oci-archiv", "oci-archive"],
      ["ocii", "oci"],
    ] as const)
      await expect(
        squash({ image: SAMPLE, destination: `${typo}:${join(here, "out.tar")}` }),
      ).rejects.toMatchObject({
        code: "STRATA_BAD_REFERENCE",
        hint: expect.stringContaining(`did you mean ${meant}:?`),
      });
    expect(readdirSync(here)).toEqual([]);
    const layout = join(here, "mydir");
    const made = await squash({ image: SAMPLE, destination: `${layout}:latest` });
    expect(made.destination).toContain(layout);
    expect(readdirSync(layout).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
  });
});

const unavailable = registryUnavailable();

describe.skipIf(unavailable !== undefined)("squash and repack to archives and registries", () => {
  let open: TestRegistry;
  let locked: TestRegistry;
  beforeAll(async () => {
    ({ open, locked } = await startOpenAndLocked(work.path));
  }, 60_000);
  afterAll(() => {
    open?.stop();
    locked?.stop();
  });

  it("squash gives the same manifest in a layout, an oci-archive and a registry, and the same tree in a docker-archive", async () => {
    const original = await tree(SAMPLE);
    const inLayout = await squash({ image: SAMPLE, destination: fresh("flat") });
    expect(inLayout.destination).toMatch(/^oci:.*:squashed$/);
    const archive = `${fresh("flat")}.tar`;
    const inArchive = await squash({ image: SAMPLE, destination: `oci-archive:${archive}` });
    expect(inArchive.destination).toBe(`oci-archive:${archive}:squashed`);
    expect(inArchive.manifest.digest).toBe(inLayout.manifest.digest);
    expect(diffSnapshots(original, await tree(`oci-archive:${archive}:squashed`))).toEqual([]);

    const pushed = `docker://${open.host}/strata/flat:1`;
    const [inRegistry, left] = await inTmpdir(() => squash({ image: SAMPLE, destination: pushed }));
    expect(left).toEqual([]);
    expect(inRegistry.manifest.digest).toBe(inLayout.manifest.digest);
    const raw = run("skopeo", ["inspect", "--raw", "--tls-verify=false", pushed]);
    expect(raw.status, raw.stderr).toBe(0);
    expect(`sha256:${createHash("sha256").update(raw.stdout).digest("hex")}`).toBe(
      inLayout.manifest.digest,
    );
    expect(diffSnapshots(original, await tree(pushed))).toEqual([]);

    const dockerArchive = `${fresh("flat")}.docker.tar`;
    const [, leftByArchive] = await inTmpdir(() =>
      squash({ image: SAMPLE, destination: `docker-archive:${dockerArchive}:strata/flat:1` }),
    );
    expect(leftByArchive).toEqual([]);
    const loaded = run("skopeo", ["inspect", `docker-archive:${dockerArchive}`]);
    expect(loaded.status, loaded.stderr).toBe(0);
    const listed = run("tar", ["-xOf", dockerArchive, "manifest.json"]);
    expect(JSON.parse(listed.stdout)[0].RepoTags).toEqual(["strata/flat:1"]);
    expect(diffSnapshots(original, await tree(`docker-archive:${dockerArchive}`))).toEqual([]);
  });

  it("repack onto a Docker schema-2 base, pushed to another repository: base layers mounted, one OCI family", async () => {
    const base = `docker://${open.host}/strata/base:v1`;
    const made = run("skopeo", [
      "copy",
      "--dest-tls-verify=false",
      "--format",
      "v2s2",
      SAMPLE,
      base,
    ]);
    expect(made.status, made.stderr).toBe(0);
    const baseLayers = JSON.parse(
      run("skopeo", ["inspect", "--raw", "--tls-verify=false", base]).stdout,
    ).layers.length;
    const rootfs = fresh("rootfs");
    await unpack({ image: base, dest: rootfs });
    writeFileSync(join(rootfs, "added-by-repack"), "x\n");

    const app = `docker://${open.host}/strata/app:v2`;
    const repacked = run(BIN, ["repack", "--json", base, rootfs, app]);
    expect(repacked.status, repacked.stderr).toBe(0);
    const result = checkedResult(repacked.stdout);
    expect(result.destination).toBe(app);
    expect(result.baseLayers).toEqual({ sent: 0, present: 0, mounted: baseLayers, bytes: 0 });
    expect(result.layer).not.toBeNull();

    const raw = run("skopeo", ["inspect", "--raw", "--tls-verify=false", app]);
    expect(raw.status, raw.stderr).toBe(0);
    const manifest = JSON.parse(raw.stdout);
    expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(manifest.layers).toHaveLength(baseLayers + 1);
    for (const layer of manifest.layers) expect(layer.mediaType).toMatch(OCI_LAYER);
    expect(diffSnapshots(snapshotDisk(rootfs), await tree(app))).toEqual([]);

    // Again into the same repository: every base layer is there already.
    const again = run(BIN, [
      "repack",
      "--json",
      base,
      rootfs,
      `docker://${open.host}/strata/app:v3`,
    ]);
    expect(again.status, again.stderr).toBe(0);
    expect(checkedResult(again.stdout).baseLayers.present).toBe(baseLayers);
  });

  it("a push the registry refuses is a typed error: no tag, no spooled layer left", async () => {
    const denied = `docker://${locked.host}/private/flat:1`;
    const tmp = fresh("tmpdir");
    mkdirSync(tmp);
    const refused = run(BIN, ["squash", SAMPLE, denied], { TMPDIR: tmp });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/STRATA_REGISTRY_DENIED|STRATA_REGISTRY_AUTH/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(tmp)).toEqual([]);
    const look = run("skopeo", [
      "inspect",
      "--raw",
      "--tls-verify=false",
      "--creds",
      "alice:s3cret-pw",
      denied,
    ]);
    expect(look.status).not.toBe(0);
    // With credentials the same squash lands.
    const landed = run(BIN, ["squash", "--creds", "alice:s3cret-pw", SAMPLE, denied], {
      TMPDIR: tmp,
    });
    expect(landed.status, landed.stderr).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
