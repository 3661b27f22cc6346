// Issue #22: images leave the machine. copyImage (and `strata copy`) pushes a
// layout to a real registry (Debian's docker-registry on loopback) and back,
// shares blobs by HEAD and by cross-repository mount, pushes with Basic
// credentials, and converts a Docker manifest going into an OCI layout, which
// skopeo then reads (it did not read what `pull` used to write).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { checkedResult } from "../../../test/support/result-schema.js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pull, unpack } from "@strata-oci/core";
import { repack } from "@strata-oci/build";
import { copyImage, findReferrers, OCI_MANIFEST } from "@strata-oci/image";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";
import { tempDir } from "../../../test/support/layers.js";
import { multiPlatformLayout } from "../../../test/support/test-images.js";
import {
  blob,
  descriptorOf,
  OCI_INDEX,
  SPDX,
  writeFullLayout,
} from "../../../test/support/spec-layouts.js";
import {
  registryUnavailable,
  startFaultProxy,
  startOpenAndLocked,
  type TestRegistry,
} from "../../../test/support/registry.js";

const unavailable = registryUnavailable();
const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
const work = tempDir("strata-copy-");
afterAll(() => work.remove());

async function tree(image: string): Promise<ReturnType<typeof snapshotDisk>> {
  const dest = join(work.path, `tree-${Math.random().toString(36).slice(2)}`);
  await unpack({ image, dest });
  return snapshotDisk(dest);
}

function skopeo(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync("skopeo", args, { encoding: "utf8" });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe.skipIf(unavailable !== undefined)("copy: any source to a layout or a registry", () => {
  let open: TestRegistry;
  let locked: TestRegistry;

  beforeAll(async () => {
    ({ open, locked } = await startOpenAndLocked(work.path));
  }, 60_000);
  afterAll(() => {
    open?.stop();
    locked?.stop();
  });

  it("pushes a layout: skopeo reads it, it unpacks to the layout's tree, a second push sends nothing", async () => {
    const destination = `docker://${open.host}/strata/pushed:v1`;
    const first = await copyImage({ image: SAMPLE, destination });
    expect(first.sent).toBe(4); // three layers and the config
    expect(first.converted).toBe(false);
    const raw = skopeo("inspect", "--tls-verify=false", "--raw", destination);
    expect(raw.status, raw.stderr).toBe(0);
    expect(JSON.parse(raw.stdout).mediaType).toBe(OCI_MANIFEST);
    expect(diffSnapshots(await tree(SAMPLE), await tree(destination))).toEqual([]);
    const again = await copyImage({ image: SAMPLE, destination });
    expect([again.sent, again.present]).toEqual([0, 4]);
    expect(again.manifest.digest).toBe(first.manifest.digest);
  });

  it("--format v2s2 pushes a Docker schema-2 manifest of the same blobs; oci converts it back", async () => {
    const destination = `docker://${open.host}/strata/v2s2:1`;
    const docker = await copyImage({ image: SAMPLE, destination, format: "v2s2" });
    expect(docker.converted).toBe(true);
    const raw = JSON.parse(skopeo("inspect", "--tls-verify=false", "--raw", destination).stdout);
    expect(raw.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(raw.config).toMatchObject({
      mediaType: "application/vnd.docker.container.image.v1+json",
      digest: docker.image.configDigest,
    });
    expect(raw.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(
      Array(3).fill("application/vnd.docker.image.rootfs.diff.tar.gzip"),
    );
    // Back to OCI, into a registry: the same blobs, the same tree.
    const back = `docker://${open.host}/strata/v2s2-back:1`;
    const oci = await copyImage({ image: destination, destination: back, format: "oci" });
    expect([oci.converted, oci.manifest.mediaType]).toEqual([true, OCI_MANIFEST]);
    expect(diffSnapshots(await tree(SAMPLE), await tree(back))).toEqual([]);
    // zstd layers have no Docker schema-2 form: refused, nothing tagged.
    const zstd = join(work.path, "zstd");
    await copyImage({ image: SAMPLE, destination: `oci:${zstd}:z` });
    const squashed = spawnSync(BIN, [
      "squash",
      "-q",
      "--compress",
      "zstd",
      SAMPLE,
      `oci:${zstd}:z`,
    ]);
    expect(squashed.status).toBe(0);
    await expect(
      copyImage({
        image: `oci:${zstd}:z`,
        destination: `docker://${open.host}/strata/z:1`,
        format: "v2s2",
      }),
    ).rejects.toMatchObject({ code: "STRATA_BAD_IMAGE", message: expect.stringMatching(/zstd/) });
  });

  it("--all copies an index whole: every platform, then the index, its digest kept", async () => {
    const multi = `oci:${multiPlatformLayout(join(work.path, "all"))}:multi`;
    const destination = `docker://${open.host}/strata/all:1`;
    const pushed = await copyImage({ image: multi, destination, all: true });
    expect(pushed.converted).toBe(false);
    expect(pushed.manifest.digest).toBe(pushed.image.index?.descriptor.digest);
    const raw = skopeo("inspect", "--tls-verify=false", "--raw", destination);
    const index = JSON.parse(raw.stdout) as { mediaType: string; manifests: unknown[] };
    expect([index.mediaType, index.manifests.length]).toEqual([
      "application/vnd.oci.image.index.v1+json",
      2,
    ]);
    // Each platform unpacks from the registry to its own tree.
    for (const [platform, which] of [
      ["linux/amd64", "amd64"],
      ["linux/arm64/v8", "arm64"],
    ] as const) {
      const dest = join(work.path, `all-${which}`);
      await unpack({ image: destination, dest, platform });
      expect(readFileSync(join(dest, "which"), "utf8")).toBe(which);
    }
    // Back into a layout: the same index digest, tagged; Docker schema 2: a manifest list.
    const back = await copyImage({
      image: destination,
      destination: `oci:${join(work.path, "all-back")}:b`,
      all: true,
    });
    expect(back.manifest.digest).toBe(pushed.manifest.digest);
    const list = `docker://${open.host}/strata/all-v2s2:1`;
    const docker = await copyImage({ image: multi, destination: list, all: true, format: "v2s2" });
    expect(docker.converted).toBe(true);
    const listed = JSON.parse(skopeo("inspect", "--tls-verify=false", "--raw", list).stdout) as {
      mediaType: string;
      manifests: Array<{ mediaType: string; platform: { architecture: string } }>;
    };
    expect(listed.mediaType).toBe("application/vnd.docker.distribution.manifest.list.v2+json");
    expect(listed.manifests.map((m) => [m.mediaType, m.platform.architecture])).toEqual([
      ["application/vnd.docker.distribution.manifest.v2+json", "amd64"],
      ["application/vnd.docker.distribution.manifest.v2+json", "arm64"],
    ]);
    // An archive holds one image.
    await expect(
      copyImage({
        image: multi,
        destination: `docker-archive:${join(work.path, "all.tar")}`,
        all: true,
      }),
    ).rejects.toMatchObject({ code: "STRATA_BAD_REFERENCE" });
  });

  it("an artifact with a subject, pushed where there is no referrers API, is in its fallback tag", async () => {
    const dir = join(work.path, "full");
    const full = writeFullLayout(dir);
    const app = `docker://${open.host}/strata/full:app`;
    await copyImage({ image: `oci:${dir}:app`, destination: app, all: true });
    // Twice: listed once.
    for (let i = 0; i < 2; i++)
      await copyImage({
        image: `oci:${dir}:sbom`,
        destination: `docker://${open.host}/strata/full:sbom`,
      });
    const found = await findReferrers({ image: app, platform: "linux/amd64" });
    expect(found.via).toBe("tag schema");
    expect(found.referrers.map((r) => [r.subject, r.descriptor.artifactType])).toEqual([
      [full.manifest.digest, SPDX],
    ]);
  });

  it("--all copies nested indexes, depth first, each by its digest; the same bytes come back", async () => {
    const dir = join(work.path, "nested");
    const full = writeFullLayout(dir);
    const sbom = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests[1];
    // An index whose first entry is an index (the platforms), then an artifact, tagged "outer".
    const outer = blob(OCI_INDEX, {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [descriptorOf(full.platforms), { ...sbom, annotations: undefined }],
    });
    writeFileSync(join(dir, "blobs", "sha256", outer.digest.slice(7)), outer.data);
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    index.manifests.push(
      descriptorOf(outer, { annotations: { "org.opencontainers.image.ref.name": "outer" } }),
    );
    writeFileSync(join(dir, "index.json"), JSON.stringify(index));

    const pushed = `docker://${open.host}/strata/nested:1`;
    const result = await copyImage({ image: `oci:${dir}:outer`, destination: pushed, all: true });
    expect([result.manifest.digest, result.converted]).toEqual([outer.digest, false]);
    const sha = (text: string): string =>
      `sha256:${createHash("sha256").update(text, "latin1").digest("hex")}`;
    const top = skopeo("inspect", "--tls-verify=false", "--raw", pushed);
    expect(sha(top.stdout)).toBe(outer.digest);
    const nested = skopeo(
      "inspect",
      "--tls-verify=false",
      "--raw",
      `docker://${open.host}/strata/nested@${full.platforms.digest}`,
    );
    expect(sha(nested.stdout)).toBe(full.platforms.digest);
    const arm = join(work.path, "nested-arm");
    await unpack({
      image: `docker://${open.host}/strata/nested@${full.platforms.digest}`,
      dest: arm,
      platform: "linux/arm64/v8",
    });
    expect(readFileSync(join(arm, "etc", "app.conf"), "utf8")).toBe("port=8080\n");

    const back = join(work.path, "nested-back");
    const again = await copyImage({ image: pushed, destination: `oci:${back}:o`, all: true });
    expect(again.manifest.digest).toBe(outer.digest);
    // Everything the outer index reaches is in the layout copied back, byte for byte.
    const seen = new Set<string>();
    const walk = (d: { mediaType: string; digest: string }): void => {
      const data = readFileSync(join(back, "blobs", "sha256", d.digest.slice(7)));
      expect(sha(data.toString("latin1")), d.digest).toBe(d.digest);
      seen.add(d.digest);
      if (!/manifest|index/.test(d.mediaType)) return;
      const json = JSON.parse(data.toString("utf8"));
      for (const child of [...(json.manifests ?? []), json.config, ...(json.layers ?? [])])
        if (child !== undefined) walk(child);
    };
    walk(outer);
    // outer, platforms, 3 manifests, 3 configs, the layer; the SBOM, its config and its blob.
    expect(seen.size).toBe(12);
  });

  it("between repositories of one registry, blobs are mounted, not sent", async () => {
    const from = `docker://${open.host}/strata/pushed:v1`;
    await copyImage({ image: SAMPLE, destination: from });
    const copied = await copyImage({
      image: from,
      destination: `docker://${open.host}/other/app:v2`,
    });
    expect([copied.sent, copied.mounted]).toEqual([0, 4]);
    const listed = skopeo("inspect", "--tls-verify=false", `docker://${open.host}/other/app:v2`);
    expect(listed.status, listed.stderr).toBe(0);
  });

  it("a mount the registry declines: the blob goes to the upload it opened instead, no second POST", async () => {
    const from = `docker://${open.host}/strata/declined:v1`;
    await copyImage({ image: SAMPLE, destination: from });
    const proxy = await startFaultProxy(open.host);
    try {
      proxy.faults = { declineMounts: true };
      const copied = await copyImage({
        image: `docker://${proxy.host}/strata/declined:v1`,
        destination: `docker://${proxy.host}/other/declined:v2`,
      });
      expect([copied.sent, copied.mounted]).toEqual([4, 0]);
      const posts = proxy.log.filter((entry) => entry.method === "POST");
      // One POST a blob (the mount asked, declined with 202), each upload finished with its PUT.
      expect(posts.map((entry) => [/[?&]mount=/.test(entry.path), entry.status])).toEqual(
        Array.from({ length: 4 }, () => [true, 202]),
      );
    } finally {
      proxy.stop();
    }
    const pulled = join(work.path, "declined");
    await unpack({ image: `docker://${open.host}/other/declined:v2`, dest: pulled });
    expect(readFileSync(join(pulled, "etc", "os-release"), "utf8")).toContain("strata sample");
  });

  it("pushes with credentials, and without them is STRATA_REGISTRY_DENIED, no tag made", async () => {
    const destination = `docker://${locked.host}/private/app:v1`;
    await expect(copyImage({ image: SAMPLE, destination })).rejects.toMatchObject({
      code: "STRATA_REGISTRY_DENIED",
    });
    const copied = await copyImage({
      image: SAMPLE,
      destination,
      registry: { creds: { username: "alice", password: "s3cret-pw" } },
    });
    expect(copied.sent).toBe(4);
    const read = skopeo("inspect", "--tls-verify=false", "--creds", "alice:s3cret-pw", destination);
    expect(read.status, read.stderr).toBe(0);
  });

  it("a Docker manifest copied into a layout is converted to OCI, and skopeo reads the layout", async () => {
    const docker = `docker://${open.host}/strata/docker:v1`;
    const made = skopeo("copy", "--dest-tls-verify=false", "--format", "v2s2", SAMPLE, docker);
    expect(made.status, made.stderr).toBe(0);
    const layout = join(work.path, "converted");
    const copied = await copyImage({ image: docker, destination: `oci:${layout}:conv` });
    expect(copied.converted).toBe(true);
    expect(copied.manifest.mediaType).toBe(OCI_MANIFEST);
    const read = skopeo("inspect", `oci:${layout}:conv`);
    expect(read.status, read.stderr).toBe(0);
    expect(diffSnapshots(await tree(SAMPLE), await tree(`oci:${layout}:conv`))).toEqual([]);
  });

  it("pull and repack of a Docker schema-2 image write OCI documents into the layout", async () => {
    const docker = `docker://${open.host}/strata/docker2:v1`;
    const made = skopeo("copy", "--dest-tls-verify=false", "--format", "v2s2", SAMPLE, docker);
    expect(made.status, made.stderr).toBe(0);
    const pulled = join(work.path, "pulled");
    const result = await pull({ image: docker, layout: `oci:${pulled}:p` });
    expect(result.manifest.mediaType).toBe(OCI_MANIFEST);
    expect(skopeo("inspect", `oci:${pulled}:p`).status).toBe(0);
    const rootfs = join(work.path, "repack-rootfs");
    await unpack({ image: docker, dest: rootfs });
    writeFileSync(join(rootfs, "added"), "x\n");
    const repacked = join(work.path, "repacked");
    const made2 = await repack({ image: docker, rootfs, destination: `oci:${repacked}:r` });
    const manifest = JSON.parse(
      readFileSync(join(repacked, "blobs", "sha256", made2.manifest.digest.slice(7)), "utf8"),
    );
    for (const layer of manifest.layers)
      expect(layer.mediaType).toMatch(/^application\/vnd\.oci\.image\.layer\.v1\.tar/);
    expect(skopeo("inspect", `oci:${repacked}:r`).status).toBe(0);
  });

  it("the command asks for the password of --creds USER on the terminal, without echo", async () => {
    const destination = `docker://${locked.host}/private/prompted:v1`;
    // `script` runs the command on a real terminal; the password is typed once the prompt shows.
    const child = spawn(
      "script",
      ["-qec", `"${BIN}" copy --quiet --creds alice ${SAMPLE} ${destination}`, "/dev/null"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let screen = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      if (
        !screen.includes("Password for alice:") &&
        (screen + text).includes("Password for alice:")
      )
        setTimeout(() => child.stdin.write("s3cret-pw\n"), 200);
      screen += text;
    });
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(screen).toContain("Password for alice:");
    expect(screen).not.toContain("s3cret-pw");
    expect(status, screen).toBe(0);
    const read = skopeo("inspect", "--tls-verify=false", "--creds", "alice:s3cret-pw", destination);
    expect(read.status, read.stderr).toBe(0);
    // Without a terminal there is nobody to ask: a usage error, not a hang.
    const unasked = spawnSync("setsid", [BIN, "inspect", "--creds", "alice", destination], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(unasked.status).toBe(2);
    expect(unasked.stderr).toContain("no terminal to ask on");
  });

  it("copy between registries: --dest-creds for the destination alone", async () => {
    const from = `docker://${open.host}/strata/pushed:v1`;
    await copyImage({ image: SAMPLE, destination: from });
    const to = `docker://${locked.host}/private/from-open:v1`;
    const denied = spawnSync(BIN, ["copy", from, to], { encoding: "utf8" });
    expect(denied.stderr).toContain("STRATA_REGISTRY_DENIED");
    const copied = spawnSync(BIN, ["copy", "--dest-creds", "alice:s3cret-pw", from, to], {
      encoding: "utf8",
    });
    expect(copied.status, copied.stderr).toBe(0);
    const read = skopeo("inspect", "--tls-verify=false", "--creds", "alice:s3cret-pw", to);
    expect(read.status, read.stderr).toBe(0);
  });

  it("--registry-token is sent as it is; --no-creds reads no auth file", () => {
    const image = `docker://${locked.host}/private/prompted:v1`;
    const token = spawnSync(BIN, ["inspect", "--registry-token", "not-a-token", image], {
      encoding: "utf8",
    });
    expect(token.status).toBe(1);
    expect(token.stderr).toContain("STRATA_REGISTRY_DENIED");
    const authfile = join(work.path, "auth.json");
    const auth = Buffer.from("alice:s3cret-pw").toString("base64");
    writeFileSync(authfile, JSON.stringify({ auths: { [locked.host]: { auth } } }));
    const withFile = spawnSync(BIN, ["inspect", "--authfile", authfile, image], {
      encoding: "utf8",
    });
    expect(withFile.status, withFile.stderr).toBe(0);
    const anonymous = spawnSync(BIN, ["inspect", "--no-creds", image], {
      encoding: "utf8",
      env: { ...process.env, REGISTRY_AUTH_FILE: authfile },
    });
    expect(anonymous.status).toBe(1);
    expect(anonymous.stderr).toContain("STRATA_REGISTRY_DENIED");
  });

  it("copy tells the bytes it sends (the library's onProgress; the command's progress on a terminal)", async () => {
    const seen = new Map<string, { bytes: number; size: number }>();
    await copyImage({
      image: SAMPLE,
      destination: `oci:${join(work.path, "progress")}:p`,
      onProgress: (event) => seen.set(event.digest, event),
    });
    expect(seen.size).toBe(3);
    for (const { bytes, size } of seen.values()) expect(bytes).toBe(size);
    const run = spawnSync(
      "script",
      ["-qec", `"${BIN}" copy ${SAMPLE} oci:${join(work.path, "progress-cli")}:p`, "/dev/null"],
      { encoding: "utf8" },
    );
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/blob sha256:[0-9a-f]{12}/);
    expect(run.stdout).toContain("copied ");
  });

  it("the command: strata copy --json, and a destination strata cannot write", () => {
    const destination = `docker://${open.host}/strata/cli:1`;
    const run = spawnSync(BIN, ["copy", "--json", SAMPLE, destination], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const json = checkedResult(run.stdout);
    expect(json.destination).toBe(destination);
    expect(json.blobs.sent + json.blobs.present + json.blobs.mounted).toBe(4);
    const refused = spawnSync(BIN, ["copy", SAMPLE, `ftp://${open.host}/strata/cli:1`], {
      encoding: "utf8",
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("STRATA_BAD_REFERENCE");
  });
});
