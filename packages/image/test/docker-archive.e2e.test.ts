// docker-archive both ways (#22), against the real Docker daemon (started by
// the test with its own data root): what strata writes, `docker load` loads
// and `docker export` shows as strata unpacks it; what `docker save` writes,
// strata copies to an OCI layout and unpacks to the tree Docker shows; skopeo
// reads strata's archives; a copy that fails leaves no archive.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyImage, writeOciLayout } from "@strata-oci/image";
import { unpack } from "@strata-oci/core";
import { writeTar } from "@strata-oci/layer";
import { diffSnapshots, snapshotDisk, type TreeSnapshot } from "@strata-oci/testing";
import { dockerUnavailable, startDocker, type TestDocker } from "../../../test/support/dockerd.js";
import { tempDir } from "../../../test/support/layers.js";

const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
const unavailable = dockerUnavailable();
const work = tempDir("strata-docker-archive-");
let docker: TestDocker | undefined;
let n = 0;
const fresh = (name: string): string => join(work.path, `${name}-${n++}`);

beforeAll(async () => {
  if (unavailable === undefined) docker = await startDocker();
}, 60_000);
afterAll(async () => {
  await docker?.stop();
  work.remove();
}, 60_000);

/** What Docker adds to a container's tree: left out of the comparison. */
const DOCKER_MADE = new Set([
  ".dockerenv",
  "dev",
  "proc",
  "sys",
  "etc/hostname",
  "etc/hosts",
  "etc/mtab",
  "etc/resolv.conf",
]);

/** The tree `docker export` gives of a container of `image`, without what Docker adds. */
function dockerTree(image: string): TreeSnapshot {
  const d = docker as TestDocker;
  const created = d.docker("create", image, "/bin/true");
  expect(created.status, created.stderr).toBe(0);
  const id = created.stdout.trim();
  const tar = fresh("export.tar");
  expect(d.docker("export", "-o", tar, id).status).toBe(0);
  d.docker("rm", id);
  const dir = fresh("exported");
  mkdirSync(dir);
  expect(spawnSync("tar", ["-xpf", tar, "-C", dir, "--numeric-owner"]).status).toBe(0);
  const tree = snapshotDisk(dir);
  for (const path of [...tree.keys()])
    if ([...DOCKER_MADE].some((made) => path === made || path.startsWith(`${made}/`)))
      tree.delete(path);
  // An /etc Docker made only for its own files.
  if (![...tree.keys()].some((path) => path.startsWith("etc/"))) tree.delete("etc");
  return tree;
}

async function strataTree(image: string): Promise<TreeSnapshot> {
  const dest = fresh("unpacked");
  await unpack({ image, dest, rootless: false });
  const tree = snapshotDisk(dest);
  return tree;
}

/**
 * Differences, directory times aside: Docker stamps "now" on a directory a later layer writes
 * into, where strata (as umoci and GNU tar) keeps the time its own entry gave.
 */
function differences(expected: TreeSnapshot, actual: TreeSnapshot): string[] {
  return diffSnapshots(expected, actual).filter((line) => {
    const path = line.slice(0, line.indexOf(": "));
    return !(/: mtime: /.test(line) && expected.get(path === "/" ? "" : path)?.kind === "dir");
  });
}

/**
 * Where Docker and strata differ by design: a hardlink entry to a file of a lower layer. Docker
 * (and containerd) chmod the shared inode to the link header's mode; strata keeps the file's, as
 * umoci and GNU tar do (both give 0755 here). The sample's layer 1 links usr/bin/hi, 0644, to
 * layer 0's usr/bin/hello, 0755.
 */
const SAMPLE_HARDLINK_MODE = [
  "usr/bin/hello: mode: want 493, got 420",
  "usr/bin/hi: mode: want 493, got 420",
];

describe.skipIf(unavailable !== undefined)("docker-archive with the Docker daemon", () => {
  it("strata's docker-archive loads with docker load, and Docker shows strata's tree", async () => {
    const file = fresh("app.tar");
    const copied = await copyImage({ image: SAMPLE, destination: `docker-archive:${file}:app:1` });
    expect(copied.converted).toBe(false);
    const loaded = (docker as TestDocker).docker("load", "-i", file);
    expect(loaded.stdout.trim()).toBe("Loaded image: app:1");
    expect(differences(await strataTree(SAMPLE), dockerTree("app:1"))).toEqual(
      SAMPLE_HARDLINK_MODE,
    );
    // Its config is the source's: the same image ID.
    const id = (docker as TestDocker).docker("image", "inspect", "-f", "{{.Id}}", "app:1");
    expect(id.stdout.trim()).toBe(copied.image.configDigest);
  });

  it(
    "docker save's archive is copied to an OCI layout and unpacked to the tree Docker shows; " +
      "its config and layers keep their digests",
    async () => {
      const image = `oci:${fresh("multi")}:m`;
      // Three layers with a whiteout and an opaque directory, built here and loaded into Docker.
      const layout = image.slice(4, -2);
      writeOciLayout(layout, {
        tag: "m",
        layers: [
          {
            tar: writeTar([
              { name: "a/", type: "dir" },
              { name: "a/gone", type: "file", data: "x" },
              { name: "a/kept", type: "file", data: "k" },
              { name: "o/", type: "dir" },
              { name: "o/old", type: "file", data: "o" },
            ]),
          },
          { tar: writeTar([{ name: "a/.wh.gone", type: "file" }]) },
          {
            tar: writeTar([
              { name: "o/.wh..wh..opq", type: "file" },
              { name: "o/new", type: "file", data: "n", mode: 0o600 },
            ]),
          },
        ],
      });
      const mine = fresh("mine.tar");
      await copyImage({ image, destination: `docker-archive:${mine}:multi:1` });
      const d = docker as TestDocker;
      expect(d.docker("load", "-i", mine).status).toBe(0);
      const saved = fresh("saved.tar");
      expect(d.docker("save", "-o", saved, "multi:1").status).toBe(0);
      const copied = await copyImage({
        image: `docker-archive:${saved}`,
        destination: `oci:${fresh("from-docker")}:t`,
      });
      expect(copied.converted).toBe(true);
      const docker1 = dockerTree("multi:1");
      expect(differences(await strataTree(`docker-archive:${saved}`), docker1)).toEqual([]);
      expect(differences(await strataTree(copied.destination), docker1)).toEqual([]);
      expect(copied.image.configDigest).toBe(
        d.docker("image", "inspect", "-f", "{{.Id}}", "multi:1").stdout.trim(),
      );
    },
  );
});

describe("docker-archive written without Docker", () => {
  it("skopeo reads strata's archive, and strata reads it back to the same digests", async () => {
    const file = fresh("skopeo.tar");
    const copied = await copyImage({ image: SAMPLE, destination: `docker-archive:${file}:s:1` });
    const raw = spawnSync("skopeo", ["inspect", "--raw", `docker-archive:${file}`], {
      encoding: "utf8",
    });
    if (raw.status === null) return; // no skopeo here: install-tools puts it in CI
    expect(raw.status, raw.stderr).toBe(0);
    const viaSkopeo = JSON.parse(raw.stdout) as { config: { digest: string } };
    expect(viaSkopeo.config.digest).toBe(copied.image.configDigest);
    const back = await copyImage({
      image: `docker-archive:${file}`,
      destination: `oci:${fresh("back")}:b`,
    });
    expect(back.image.details?.layers.map((l) => l.digest)).toEqual(
      copied.image.details?.layers.map((l) => l.digest),
    );
    expect(diffSnapshots(await strataTree(SAMPLE), await strataTree(back.destination))).toEqual([]);
  });

  it("a copy that fails leaves no archive and nothing beside it", async () => {
    const broken = fresh("broken");
    writeOciLayout(broken, {
      tag: "t",
      layers: [{ tar: writeTar([{ name: "f", type: "file" }]) }],
    });
    // Damage the layer blob: the copy's check fails after its bytes went into the archive.
    const index = JSON.parse(readFileSync(join(broken, "index.json"), "utf8")) as {
      manifests: Array<{ digest: string }>;
    };
    const manifest = JSON.parse(
      readFileSync(join(broken, "blobs", "sha256", index.manifests[0]!.digest.slice(7)), "utf8"),
    ) as { layers: Array<{ digest: string }> };
    const blob = join(broken, "blobs", "sha256", manifest.layers[0]!.digest.slice(7));
    const bytes = readFileSync(blob);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0xff;
    writeFileSync(blob, bytes);
    const out = fresh("out");
    mkdirSync(out);
    await expect(
      copyImage({ image: `oci:${broken}:t`, destination: `docker-archive:${join(out, "x.tar")}` }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/STRATA_(DIGEST|SIZE)_MISMATCH/) });
    expect(readdirSync(out)).toEqual([]);
  });

  it("a destination under /proc ends at once with a typed error (Node's recursive mkdir spun)", () => {
    for (const destination of ["oci:/proc/strata-x/y:t", "docker-archive:/proc/strata-x/y.tar"]) {
      const run = spawnSync(BIN, ["copy", SAMPLE, destination], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(run.signal, destination).toBeNull();
      expect(run.stderr, destination).toContain("code: STRATA_FS_ERROR");
      expect(run.status).toBe(1);
    }
    expect(existsSync("/proc/strata-x")).toBe(false);
    rmSync(join(work.path, "nothing"), { force: true });
  });
});
