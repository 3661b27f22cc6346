// Issue #11: images pulled from a real registry (Debian's docker-registry on
// loopback, filled by skopeo) unpack to the same tree as from their OCI
// layout; the registry's answers that are not an image are typed errors.
import { spawnSync } from "node:child_process";
import { checkedResult } from "../../../test/support/result-schema.js";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspect, pull, unpack } from "@strata-oci/core";
import { openImage, writeOciLayout } from "@strata-oci/image";
import { writeTar } from "@strata-oci/layer";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";
import { tempDir } from "../../../test/support/layers.js";
import { multiPlatformLayout } from "../../../test/support/test-images.js";
import {
  freePort,
  makeCertificates,
  push,
  type Faults,
  registryUnavailable,
  startFaultProxy,
  startRegistry,
  startTokenServer,
  type TestCertificates,
  type TestRegistry,
  type TokenServer,
} from "../../../test/support/registry.js";

const unavailable = registryUnavailable();
if (unavailable !== undefined) console.warn(`registry tests skipped: ${unavailable}`);

const SAMPLE = join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci");
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");
const work = tempDir("strata-registry-");
afterAll(() => work.remove());

async function treeOf(
  image: string,
  options: Parameters<typeof unpack>[0] extends infer O ? Partial<O> : never = {},
): Promise<ReturnType<typeof snapshotDisk>> {
  const dest = join(work.path, `tree-${Math.random().toString(36).slice(2)}`);
  await unpack({ image, dest, ...options });
  return snapshotDisk(dest);
}

describe.skipIf(unavailable !== undefined)("registry source (docker://)", () => {
  let open: TestRegistry;
  let locked: TestRegistry;
  let tokened: TestRegistry;
  let tokens: TokenServer;
  let secure: TestRegistry;
  let certs: TestCertificates;
  let multi = "";

  beforeAll(async () => {
    mkdirSync(join(work.path, "open"));
    mkdirSync(join(work.path, "locked"));
    mkdirSync(join(work.path, "tokened"));
    tokens = await startTokenServer(join(work.path, "tokened"), "bob", "t0ken-pw", "refresh-4f2a");
    tokened = await startRegistry(join(work.path, "tokened"), { token: tokens });
    mkdirSync(join(work.path, "secure"));
    certs = makeCertificates(join(work.path, "secure"));
    secure = await startRegistry(join(work.path, "secure"), { tls: certs });
    open = await startRegistry(join(work.path, "open"));
    locked = await startRegistry(join(work.path, "locked"), {
      htpasswd: { user: "alice", password: "s3cret-pw" },
    });
    multi = multiPlatformLayout(work.path);
    await Promise.all([
      push(`oci:${SAMPLE}:sample`, `docker://${open.host}/strata/sample:latest`),
      push(`oci:${multi}:multi`, `docker://${open.host}/strata/multi:1`),
      push(`oci:${SAMPLE}:sample`, `docker://${locked.host}/private/sample:v1`, "alice:s3cret-pw"),
      push(`oci:${multi}:multi`, `docker://${tokened.host}/team/multi:1`, "bob:t0ken-pw"),
      push(`oci:${SAMPLE}:sample`, `docker://${secure.host}/strata/sample:latest`),
    ]);
  }, 120_000);
  afterAll(() => {
    open?.stop();
    locked?.stop();
    tokened?.stop();
    tokens?.stop();
    secure?.stop();
  });

  it(
    "unpacks an image from the registry to the same tree as from its OCI layout, reporting " +
      "the download",
    async () => {
      const downloads: Array<{ received: number; total: number }> = [];
      const fromRegistry = await treeOf(`docker://${open.host}/strata/sample:latest`, {
        onProgress: (event) => {
          if (event.kind === "download")
            downloads.push({ received: event.received, total: event.total });
        },
      });
      const total = (await inspect({ image: `oci:${SAMPLE}:sample` })).layers.reduce(
        (sum, layer) => sum + layer.size,
        0,
      );
      expect(downloads.at(-1)).toEqual({ received: total, total });
      const fromLayout = await treeOf(`oci:${SAMPLE}:sample`);
      expect(diffSnapshots(fromLayout, fromRegistry)).toEqual([]);
      expect(fromRegistry.size).toBeGreaterThan(10);
    },
  );

  it(
    "picks each platform of a multi-platform index as from the layout, and checks a " +
      "by-digest reference",
    async () => {
      for (const platform of ["linux/amd64", "linux/arm64/v8"]) {
        const fromRegistry = await treeOf(`docker://${open.host}/strata/multi:1`, { platform });
        expect(
          diffSnapshots(await treeOf(`oci:${multi}:multi`, { platform }), fromRegistry),
        ).toEqual([]);
      }
      const index = JSON.parse(readFileSync(join(multi, "index.json"), "utf8")) as {
        manifests: Array<{ digest: string }>;
      };
      const digest = index.manifests[0]?.digest as string;
      expect(
        (await treeOf(`docker://${open.host}/strata/multi@${digest}`, { platform: "linux/amd64" }))
          .size,
      ).toBeGreaterThan(0);
      const other = `sha256:${"0".repeat(64)}`;
      await expect(
        unpack({
          image: `docker://${open.host}/strata/multi@${other}`,
          dest: join(work.path, "nope"),
        }),
      ).rejects.toMatchObject({ code: "STRATA_MANIFEST_NOT_FOUND" });
      expect(existsSync(join(work.path, "nope"))).toBe(false);
    },
  );

  it("names a missing repository or tag as not found", async () => {
    await expect(
      unpack({
        image: `docker://${open.host}/strata/absent:latest`,
        dest: join(work.path, "absent"),
      }),
    ).rejects.toMatchObject({ code: "STRATA_MANIFEST_NOT_FOUND" });
    await expect(
      unpack({ image: `docker://${open.host}/strata/sample:v9`, dest: join(work.path, "absent") }),
    ).rejects.toMatchObject({ code: "STRATA_MANIFEST_NOT_FOUND" });
  });

  it(
    "Basic auth: refused without credentials or with wrong ones, never echoing them; unpacks " +
      "with them",
    async () => {
      const image = `docker://${locked.host}/private/sample:v1`;
      await expect(unpack({ image, dest: join(work.path, "locked-1") })).rejects.toMatchObject({
        code: "STRATA_REGISTRY_DENIED",
      });
      const wrong = unpack({
        image,
        dest: join(work.path, "locked-2"),
        registry: { creds: { username: "alice", password: "not-it-xyz" } },
      });
      await expect(wrong).rejects.toMatchObject({ code: "STRATA_REGISTRY_DENIED" });
      const error = (await wrong.catch((e: unknown) => e)) as Error & { hint?: string };
      expect(`${error.message} ${error.hint}`).not.toContain("not-it-xyz");
      const tree = await treeOf(image, {
        registry: { creds: { username: "alice", password: "s3cret-pw" } },
      });
      expect(diffSnapshots(await treeOf(`oci:${SAMPLE}:sample`), tree)).toEqual([]);
      // The same credentials from an auth file, as podman login or docker login write it.
      const authFile = join(work.path, "auth.json");
      writeFileSync(
        authFile,
        JSON.stringify({
          auths: { [locked.host]: { auth: Buffer.from("alice:s3cret-pw").toString("base64") } },
        }),
      );
      expect(diffSnapshots(tree, await treeOf(image, { registry: { authFile } }))).toEqual([]);
    },
  );

  it(
    "Bearer tokens from the registry's token server: one token for the repository's pull " +
      "scope, reused for every blob",
    async () => {
      const image = `docker://${tokened.host}/team/multi:1`;
      await expect(unpack({ image, dest: join(work.path, "tok-1") })).rejects.toMatchObject({
        code: "STRATA_REGISTRY_DENIED",
      });
      tokens.requests.length = 0;
      const tree = await treeOf(image, {
        platform: "linux/arm64/v8",
        registry: { creds: { username: "bob", password: "t0ken-pw" } },
      });
      expect(
        diffSnapshots(await treeOf(`oci:${multi}:multi`, { platform: "linux/arm64/v8" }), tree),
      ).toEqual([]);
      // index, manifest, config and a layer were fetched with the one token.
      expect(tokens.requests).toEqual([
        { scope: "repository:team/multi:pull", authorized: true, method: "GET" },
      ]);
      // An identitytoken from docker login's config.json is exchanged by an OAuth2 POST.
      tokens.requests.length = 0;
      const authFile = join(work.path, "identity.json");
      writeFileSync(
        authFile,
        JSON.stringify({
          auths: {
            [tokened.host]: {
              auth: Buffer.from("<token>:").toString("base64"),
              identitytoken: "refresh-4f2a",
            },
          },
        }),
      );
      expect(
        diffSnapshots(
          tree,
          await treeOf(image, { platform: "linux/arm64/v8", registry: { authFile } }),
        ),
      ).toEqual([]);
      expect(tokens.requests).toEqual([
        { scope: "repository:team/multi:pull", authorized: true, method: "POST" },
      ]);
      tokens.garbage = true;
      try {
        await expect(
          unpack({
            image,
            dest: join(work.path, "tok-2"),
            registry: { creds: { username: "bob", password: "t0ken-pw" } },
          }),
        ).rejects.toMatchObject({ code: "STRATA_REGISTRY_ERROR" });
      } finally {
        tokens.garbage = false;
      }
      expect(existsSync(join(work.path, "tok-2"))).toBe(false);
    },
  );

  let slowLayout: Promise<string> | undefined;
  /**
   * A one-layer image of incompressible files (the blob about 600 KB), in the open registry as
   * strata/slow:1.
   */
  function slowImage(): Promise<string> {
    slowLayout ??= (async () => {
      const layout = join(work.path, "slow");
      const files = Array.from({ length: 60 }, (_, i) => ({
        name: `f${i}`,
        type: "file" as const,
        data: randomBytes(10_000),
      }));
      writeOciLayout(layout, { layers: [{ tar: writeTar(files) }], tag: "latest" });
      await push(`oci:${layout}:latest`, `docker://${open.host}/strata/slow:1`);
      return layout;
    })();
    return slowLayout;
  }

  it(
    "a layer is applied while it downloads (through a proxy at 1 MB/s), and still verified: " +
      "a corrupted one leaves no DEST",
    async () => {
      const layout = await slowImage();
      const proxy = await startFaultProxy(open.host);
      try {
        proxy.faults = { bytesPerSecond: 1_000_000 };
        let received = 0;
        let total = 0;
        const appliedEarly: number[] = [];
        const fromRegistry = await treeOf(`docker://${proxy.host}/strata/slow:1`, {
          onProgress: (event) => {
            if (event.kind === "download") ({ received, total } = event);
            if (event.kind === "bytes" && received < total) appliedEarly.push(event.read);
          },
        });
        expect(total).toBeGreaterThan(400_000);
        // Applying kept up with the download: bytes of the (only) layer were read before it had all
        // arrived.
        expect(appliedEarly.length).toBeGreaterThan(0);
        expect(diffSnapshots(await treeOf(`oci:${layout}:latest`), fromRegistry)).toEqual([]);
        proxy.faults = { bytesPerSecond: 1_000_000, corruptBlobs: true };
        const dest = join(work.path, "slow-corrupt");
        await expect(
          unpack({ image: `docker://${proxy.host}/strata/slow:1`, dest }),
        ).rejects.toMatchObject({ code: "STRATA_DIGEST_MISMATCH" });
        expect(existsSync(dest)).toBe(false);
        expect(readdirSync(work.path).filter((name) => name.startsWith(".slow-corrupt"))).toEqual(
          [],
        );
      } finally {
        proxy.stop();
      }
    },
  );

  it(
    "an aborted pull leaves the layout as it was: no partial blob, index.json " + "untouched",
    async () => {
      await slowImage();
      const layout = join(work.path, "aborted-pull");
      await pull({ image: `docker://${open.host}/strata/sample:latest`, layout });
      const index = readFileSync(join(layout, "index.json"), "utf8");
      const blobs = readdirSync(join(layout, "blobs", "sha256")).sort();
      const proxy = await startFaultProxy(open.host);
      try {
        proxy.faults = { bytesPerSecond: 500_000 };
        const controller = new AbortController();
        let seen = 0;
        const pulling = pull({
          image: `docker://${proxy.host}/strata/slow:1`,
          layout,
          signal: controller.signal,
          onProgress: (event) => {
            seen = event.bytes;
            if (event.bytes > 50_000) controller.abort(new Error("interrupted"));
          },
        });
        await expect(pulling).rejects.toMatchObject({ code: "STRATA_ABORTED" });
        expect(seen).toBeGreaterThan(50_000);
        expect(readFileSync(join(layout, "index.json"), "utf8")).toBe(index);
        expect(readdirSync(join(layout, "blobs", "sha256")).sort()).toEqual(blobs);
      } finally {
        proxy.stop();
      }
    },
  );

  it("a connection cut before the registry answers is tried again (GET, HEAD are safe to repeat)", async () => {
    const proxy = await startFaultProxy(open.host);
    try {
      proxy.faults = { cutManifests: true };
      const image = await openImage({
        image: `docker://${proxy.host}/strata/sample:latest`,
        registry: { retry: { delayMs: 10 } },
      });
      expect(image.layers).toHaveLength(3);
      const manifestAsks = proxy.log.filter((r) => /\/manifests\//.test(r.path));
      expect(manifestAsks.map((r) => r.status)).toEqual([0, 200]);
    } finally {
      proxy.stop();
    }
  });

  it(
    "an interrupted blob resumes with a Range request; 503 with Retry-After and 429 " +
      "are retried",
    async () => {
      const proxy = await startFaultProxy(open.host);
      try {
        proxy.faults = { cutBlobs: true, unavailableManifests: true, throttleBlobs: true };
        const tree = await treeOf(`docker://${proxy.host}/strata/sample:latest`, {
          registry: { retry: { delayMs: 10 } },
        });
        expect(diffSnapshots(await treeOf(`oci:${SAMPLE}:sample`), tree)).toEqual([]);
        expect(proxy.log.filter((r) => r.status === 503)).toHaveLength(1);
        expect(proxy.log.filter((r) => r.status === 429).length).toBeGreaterThan(0);
        const resumed = proxy.log.filter((r) => r.range !== undefined);
        // Each of the three layer blobs was cut halfway and asked for again from there.
        expect(resumed.length).toBeGreaterThanOrEqual(3);
        expect(
          resumed.every((r) => /^bytes=[1-9][0-9]*-$/.test(r.range as string) && r.status === 206),
        ).toBe(true);
        // A registry that answers a Range with the whole blob: the bytes already passed on are
        // skipped.
        const again = await startFaultProxy(open.host);
        again.faults = { ignoreRange: true, cutBlobs: true };
        try {
          expect(
            diffSnapshots(
              tree,
              await treeOf(`docker://${again.host}/strata/sample:latest`, {
                registry: { retry: { delayMs: 10 } },
              }),
            ),
          ).toEqual([]);
          expect(again.log.some((r) => r.range !== undefined && r.status === 200)).toBe(true);
        } finally {
          again.stop();
        }
      } finally {
        proxy.stop();
      }
    },
  );

  it(
    "a connection that never holds ends in STRATA_REGISTRY_UNREACHABLE, " + "with no DEST",
    async () => {
      const proxy = await startFaultProxy(open.host);
      try {
        proxy.faults = { alwaysCutBlobs: true, ignoreRange: true };
        const dest = join(work.path, "never");
        await expect(
          unpack({
            image: `docker://${proxy.host}/strata/sample:latest`,
            dest,
            registry: { retry: { delayMs: 10 } },
          }),
        ).rejects.toMatchObject({ code: "STRATA_REGISTRY_UNREACHABLE" });
        expect(existsSync(dest)).toBe(false);
        // Neither the staging directory nor the one the layers downloaded into is left.
        expect(readdirSync(work.path).filter((name) => name.startsWith(".never."))).toEqual([]);
      } finally {
        proxy.stop();
      }
    },
  );

  it(
    "a corrupted blob, a stalled body, a 20 MB manifest and a schema 1 manifest are typed " +
      "errors, with no DEST",
    async () => {
      const proxy = await startFaultProxy(open.host);
      const cases: Array<[Faults, string]> = [
        [{ corruptBlobs: true }, "STRATA_DIGEST_MISMATCH"],
        [{ stallBlobs: true }, "STRATA_REGISTRY_UNREACHABLE"],
        [{ hugeManifests: true }, "STRATA_LIMIT_EXCEEDED"],
        [{ schema1Manifests: true }, "STRATA_BAD_IMAGE"],
      ];
      try {
        for (const [faults, code] of cases) {
          proxy.faults = faults;
          const dest = join(work.path, `fault-${code}`);
          const started = performance.now();
          await expect(
            unpack({
              image: `docker://${proxy.host}/strata/sample:latest`,
              dest,
              registry: { retry: { delayMs: 10 }, timeoutMs: 300 },
            }),
            code,
          ).rejects.toMatchObject({ code });
          expect(performance.now() - started, code).toBeLessThan(30_000);
          expect(existsSync(dest)).toBe(false);
          expect(
            readdirSync(work.path).filter((name) => name.startsWith(`.fault-${code}.`)),
          ).toEqual([]);
        }
      } finally {
        proxy.stop();
      }
    },
  );

  it(
    "blobs redirected to another host are fetched without the registry's " + "credentials",
    async () => {
      const proxy = await startFaultProxy(locked.host, "alice:s3cret-pw");
      try {
        proxy.faults = { redirectBlobs: true };
        const tree = await treeOf(`docker://${proxy.host}/private/sample:v1`, {
          registry: { creds: { username: "alice", password: "s3cret-pw" } },
        });
        expect(diffSnapshots(await treeOf(`oci:${SAMPLE}:sample`), tree)).toEqual([]);
        const redirected = proxy.log.filter((r) => r.server === "blobs");
        expect(redirected.length).toBeGreaterThanOrEqual(4);
        expect(redirected.filter((r) => r.authorization)).toEqual([]);
      } finally {
        proxy.stop();
      }
    },
  );

  it(
    "TLS: an untrusted certificate is refused with a hint; the CA in --cert-dir, or " +
      "--tls-verify=false, let it through",
    async () => {
      const image = `docker://${secure.host}/strata/sample:latest`;
      await expect(unpack({ image, dest: join(work.path, "tls-1") })).rejects.toMatchObject({
        code: "STRATA_REGISTRY_UNREACHABLE",
        hint: expect.stringContaining("--cert-dir"),
      });
      const certDir = join(work.path, "certs.d");
      mkdirSync(certDir);
      cpSync(certs.caCert, join(certDir, "test-ca.crt"));
      const expected = await treeOf(`oci:${SAMPLE}:sample`);
      expect(diffSnapshots(expected, await treeOf(image, { registry: { certDir } }))).toEqual([]);
      expect(
        diffSnapshots(expected, await treeOf(image, { registry: { tlsVerify: false } })),
      ).toEqual([]);
    },
  );

  it(
    "TLS: a CA given only in NODE_EXTRA_CA_CERTS is trusted by the strata command, which " +
      "starts Node without it (bin/strata)",
    () => {
      const image = `docker://${secure.host}/strata/sample:latest`;
      const command = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
      const run = (env: NodeJS.ProcessEnv, dest: string): ReturnType<typeof spawnSync> =>
        spawnSync(command, ["unpack", "--quiet", image, join(work.path, dest)], {
          encoding: "utf8",
          env,
        });
      const { NODE_EXTRA_CA_CERTS: _machine, ...withoutCa } = process.env;
      const refused = run(withoutCa, "tls-env-0");
      expect(refused.stderr).toContain("STRATA_REGISTRY_UNREACHABLE");
      const trusted = run({ ...withoutCa, NODE_EXTRA_CA_CERTS: certs.caCert }, "tls-env-1");
      expect({ status: trusted.status, stderr: trusted.stderr }).toEqual({ status: 0, stderr: "" });
      expect(readFileSync(join(work.path, "tls-env-1", "etc", "os-release"), "utf8")).toContain(
        "strata sample",
      );
    },
  );

  it("TLS: a CA in the system's bundle ($SSL_CERT_FILE, as update-ca-certificates writes it) is trusted", () => {
    const image = `docker://${secure.host}/strata/sample:latest`;
    const command = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
    const { NODE_EXTRA_CA_CERTS: _machine, ...withoutCa } = process.env;
    const bundle = join(work.path, "system-bundle.crt");
    writeFileSync(bundle, readFileSync(certs.caCert));
    const run = (env: NodeJS.ProcessEnv): ReturnType<typeof spawnSync> =>
      spawnSync(command, ["inspect", image], { encoding: "utf8", env });
    const refused = run({ ...withoutCa, SSL_CERT_FILE: join(work.path, "no-such-bundle.crt") });
    expect(refused.stderr).toContain("STRATA_REGISTRY_UNREACHABLE");
    const trusted = run({ ...withoutCa, SSL_CERT_FILE: bundle });
    expect({ status: trusted.status, stderr: trusted.stderr }).toEqual({ status: 0, stderr: "" });
  });

  it(
    "pull copies images into one OCI layout, verified and sharing blobs; they unpack offline " +
      "to the same trees",
    async () => {
      const layout = join(work.path, "pulled");
      const first = await pull({
        image: `docker://${open.host}/strata/sample:latest`,
        layout: `oci:${layout}:sample`,
      });
      // Blobs: three layers and the config (the manifest is not counted, as in copy).
      expect(first).toMatchObject({ tag: "sample", sent: 4, present: 0 });
      const again = await pull({
        image: `docker://${open.host}/strata/sample:latest`,
        layout: `oci:${layout}:copy`,
      });
      expect(again).toMatchObject({ sent: 0, present: 4 });
      // Through a connection cut halfway through every blob: resumed, same blobs.
      const proxy = await startFaultProxy(open.host);
      try {
        proxy.faults = { cutBlobs: true };
        const arm = await pull({
          image: `docker://${proxy.host}/strata/multi:1`,
          layout,
          platform: "linux/arm64/v8",
          registry: { retry: { delayMs: 10 } },
        });
        expect(arm).toMatchObject({ tag: "1", sent: 2 });
        expect(proxy.log.some((r) => r.range !== undefined)).toBe(true);
      } finally {
        proxy.stop();
      }
      const tags = (
        JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
          manifests: Array<{ annotations: Record<string, string> }>;
        }
      ).manifests.map((m) => m.annotations["org.opencontainers.image.ref.name"]);
      expect(tags.sort()).toEqual(["1", "copy", "sample"]);
      expect(
        diffSnapshots(await treeOf(`oci:${SAMPLE}:sample`), await treeOf(`oci:${layout}:copy`)),
      ).toEqual([]);
      expect(
        diffSnapshots(
          await treeOf(`oci:${multi}:multi`, { platform: "linux/arm64/v8" }),
          await treeOf(`oci:${layout}:1`, { platform: "linux/arm64/v8" }),
        ),
      ).toEqual([]);
      // Other tools read the layout too.
      const inspected = spawnSync("skopeo", ["inspect", `oci:${layout}:sample`], {
        encoding: "utf8",
      });
      expect(inspected.status).toBe(0);
      expect(
        readdirSync(join(layout, "blobs", "sha256")).filter((name) => name.includes(".tmp-")),
      ).toEqual([]);
      // The same from the command line.
      const cli = spawnSync(
        process.execPath,
        [
          BIN,
          "pull",
          "--json",
          `docker://${open.host}/strata/sample:latest`,
          `oci:${join(work.path, "cli-pulled")}`,
        ],
        { encoding: "utf8" },
      );
      expect(cli.status).toBe(0);
      expect(checkedResult(cli.stdout)).toMatchObject({
        command: "pull",
        destination: `oci:${join(work.path, "cli-pulled")}:latest`,
        blobs: { sent: 4, present: 0 },
      });
      const unpacked = spawnSync(
        process.execPath,
        [
          BIN,
          "unpack",
          "--quiet",
          `oci:${join(work.path, "cli-pulled")}:latest`,
          join(work.path, "cli-rootfs"),
        ],
        { encoding: "utf8" },
      );
      expect(unpacked.status).toBe(0);
      expect(
        diffSnapshots(
          await treeOf(`oci:${SAMPLE}:sample`),
          snapshotDisk(join(work.path, "cli-rootfs")),
        ),
      ).toEqual([]);
    },
  );

  it("a registry that does not answer is STRATA_REGISTRY_UNREACHABLE", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    await expect(
      unpack({ image: `docker://${closed}/x/y:1`, dest: join(work.path, "closed") }),
    ).rejects.toMatchObject({ code: "STRATA_REGISTRY_UNREACHABLE" });
  });
});
