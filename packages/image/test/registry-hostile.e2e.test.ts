// Issue #26.3 and the registry guarantees no test checked: a malicious
// registry on loopback (test/support/hostile-registry.ts). Credentials never
// go to another origin, a value the registry sends that cannot be sent back
// is a typed error, every wait ends on a signal, a pinned image is checked
// against its digest, and a resumed download must resume where it stopped.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { inspect, unpack } from "@strata-oci/core";
import { tempDir, writeStackImage } from "@strata-oci/testing";
import {
  answer,
  startHostileRegistry,
  type HostileRegistry,
} from "../../../test/support/hostile-registry.js";
import { makeCertificates } from "../../../test/support/registry.js";

const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");
const haveOpenssl = spawnSync("sh", ["-c", "command -v openssl"]).status === 0;
const work = tempDir("strata-registry-hostile-");
let registry: HostileRegistry;
/** The same image behind one port that speaks TLS and plain HTTP. */
let dual: HostileRegistry | undefined;
let certDir = "";
let n = 0;

beforeAll(async () => {
  const layout = join(work.path, "image");
  writeStackImage(
    layout,
    [
      [
        { name: "etc/", type: "dir" },
        { name: "etc/hello", type: "file", data: "hello\n" },
      ],
      [{ name: "big", type: "file", data: Buffer.alloc(300_000, 7) }],
    ],
    "t",
  );
  certDir = join(work.path, "certs");
  mkdirSync(certDir);
  registry = await startHostileRegistry(layout);
  if (haveOpenssl) dual = await startHostileRegistry(layout, makeCertificates(certDir));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  await dual?.stop();
  work.remove();
});
beforeEach(() => registry.reset());

const image = (suffix = ":t"): string => `docker://${registry.host}/team/app${suffix}`;
const dest = (): string => join(work.path, `dest-${n++}`);

describe("credentials and values the registry sends", () => {
  it.runIf(haveOpenssl)(
    "an HTTPS registry that redirects a blob to http:// on the same host and port gets no " +
      "credentials over plain HTTP (curl CVE-2022-27776)",
    async () => {
      const server = dual as HostileRegistry;
      server.reset();
      const basic = `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
      server.hooks = [
        (req, res, seen) => {
          if (!seen.tls) return false;
          if (req.headers.authorization !== basic)
            return answer(res, 401, { "www-authenticate": 'Basic realm="test"' });
          // Blobs (the config and the layers) go to the same host and port, in plain HTTP.
          return (
            seen.path.includes("/blobs/") &&
            answer(res, 307, { location: `http://${server.host}${seen.path}` })
          );
        },
      ];
      await unpack({
        image: `docker://${server.host}/team/app:t`,
        dest: dest(),
        registry: { creds: { username: "alice", password: "s3cret" }, certDir },
      });
      const plain = server.seen.filter((s) => !s.tls);
      expect(plain.length).toBeGreaterThan(0);
      expect(plain.map((s) => s.authorization)).toEqual(plain.map(() => undefined));
      expect(server.seen.filter((s) => s.tls && s.authorization === basic).length).toBeGreaterThan(
        0,
      );
    },
  );

  it(
    "a redirect to plain http:// on another, non-loopback host is refused before " + "connecting",
    async () => {
      registry.hooks = [
        (_req, res, seen) =>
          seen.path.includes("/blobs/") &&
          answer(res, 307, { location: `http://registry.example.invalid${seen.path}` }),
      ];
      await expect(unpack({ image: image(), dest: dest() })).rejects.toMatchObject({
        code: "STRATA_REGISTRY_UNREACHABLE",
      });
    },
  );

  for (const [name, token] of [
    ["a control character", "abc\u0007def"],
    ["a non-Latin-1 character", "t\u00f6ken\u4e00"],
    ["a space", "two words"],
    ["nothing", ""],
  ] as const) {
    it(`a Bearer token with ${name} is STRATA_REGISTRY_ERROR, not an internal error`, async () => {
      registry.hooks = [
        (req, res, seen) => {
          if (seen.path.startsWith("/token"))
            return answer(
              res,
              200,
              { "content-type": "application/json" },
              JSON.stringify({ token }),
            );
          if (req.headers.authorization === undefined)
            return answer(res, 401, {
              "www-authenticate": `Bearer realm="http://${registry.host}/token",service="test"`,
            });
          return false;
        },
      ];
      await expect(inspect({ image: image() })).rejects.toMatchObject({
        code: "STRATA_REGISTRY_ERROR",
      });
    });
  }

  it(
    "a manifest fetched by digest must hash to that digest: another manifest in its place is " +
      "STRATA_DIGEST_MISMATCH",
    async () => {
      const other = Buffer.from(
        registry.manifest.body
          .toString("utf8")
          .replace("}", ', "annotations": {"swapped": "yes"}}'),
      );
      registry.hooks = [
        (_req, res, seen) =>
          seen.path.endsWith(`/manifests/${registry.manifest.digest}`) &&
          answer(res, 200, { "content-type": registry.manifest.mediaType }, other),
      ];
      await expect(inspect({ image: image(`@${registry.manifest.digest}`) })).rejects.toMatchObject(
        {
          code: "STRATA_DIGEST_MISMATCH",
        },
      );
      // The genuine one is accepted.
      registry.reset();
      expect(
        (await inspect({ image: image(`@${registry.manifest.digest}`) })).manifest?.digest,
      ).toBe(registry.manifest.digest);
    },
  );

  it(
    "a download resumed with a 206 that starts elsewhere than asked is refused at once " +
      "(STRATA_REGISTRY_ERROR), not at the size check",
    async () => {
      const layer = registry.layers[1] as string;
      const data = registry.blob(layer) as Buffer;
      const half = Math.floor(data.length / 2);
      registry.hooks = [
        (req, res, seen) => {
          if (!seen.path.endsWith(layer)) return false;
          if (seen.range === undefined) {
            // Headers and the first half, then the connection drops.
            res.writeHead(200, { "content-length": String(data.length) });
            res.write(data.subarray(0, half), () => setTimeout(() => req.socket.destroy(), 20));
            return true;
          }
          // Asked for the rest, it sends the blob from its start again, as if from where it was
          // asked.
          return answer(
            res,
            206,
            {
              "content-range": `bytes 0-${data.length - 1}/${data.length}`,
              "content-length": String(data.length),
            },
            data,
          );
        },
      ];
      await expect(
        unpack({ image: image(), dest: dest(), registry: { retry: { delayMs: 10 } } }),
      ).rejects.toMatchObject({ code: "STRATA_REGISTRY_ERROR" });
    },
  );
});

describe("every wait ends on a signal (#26.3)", () => {
  it(
    "the library: an AbortSignal ends a Retry-After of an hour, and a manifest that trickles " +
      "in, within 1 s",
    async () => {
      for (const hook of ["retry-after", "trickle"] as const) {
        registry.hooks = [
          (_req, res, seen) => {
            if (!seen.path.includes("/manifests/")) return false;
            if (hook === "retry-after") return answer(res, 503, { "retry-after": "3600" });
            res.writeHead(200, {
              "content-type": registry.manifest.mediaType,
              "content-length": String(registry.manifest.body.length),
            });
            const timer = setInterval(() => res.write("{"), 200);
            res.on("close", () => clearInterval(timer));
            return true;
          },
        ];
        const controller = new AbortController();
        const started = Date.now();
        setTimeout(() => controller.abort(), 500);
        await expect(
          inspect({ image: image(), signal: controller.signal }),
          hook,
        ).rejects.toMatchObject({ code: "STRATA_ABORTED" });
        expect(Date.now() - started, hook).toBeLessThan(1500);
      }
    },
  );

  it(
    "a manifest that trickles in without ever going silent ends at the whole-body deadline " +
      "(10 response timeouts)",
    async () => {
      registry.hooks = [
        (_req, res, seen) => {
          if (!seen.path.includes("/manifests/")) return false;
          res.writeHead(200, {
            "content-type": registry.manifest.mediaType,
            "content-length": "100000",
          });
          const timer = setInterval(() => res.write(" "), 50);
          res.on("close", () => clearInterval(timer));
          return true;
        },
      ];
      const started = Date.now();
      await expect(inspect({ image: image(), registry: { timeoutMs: 200 } })).rejects.toMatchObject(
        {
          code: "STRATA_REGISTRY_UNREACHABLE",
        },
      );
      expect(Date.now() - started).toBeLessThan(6000);
    },
  );

  for (const [signal, status] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    it(
      `the command: ${signal} during a Retry-After of an hour ends it within ` +
        `1 s, exit ${status}, nothing left beside DEST`,
      async () => {
        let asked: () => void = () => {};
        const waiting = new Promise<void>((resolve) => (asked = resolve));
        registry.hooks = [
          (_req, res, seen) => {
            if (!seen.path.includes("/blobs/") || seen.path.endsWith(registry.layers[0] as string))
              return false;
            asked();
            return answer(res, 503, { "retry-after": "3600" });
          },
        ];
        const box = join(work.path, `box-${n++}`);
        mkdirSync(box);
        const child = spawn(process.execPath, [BIN, "unpack", image(), join(box, "rootfs")], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        await waiting;
        await new Promise((resolve) => setTimeout(resolve, 300));
        const sent = Date.now();
        child.kill(signal);
        expect(await exited).toBe(status);
        expect(Date.now() - sent).toBeLessThan(1000);
        expect(stderr).toContain("interrupted");
        expect(stderr).not.toContain("internal error");
        expect(readdirSync(box)).toEqual([]);
        expect(existsSync(join(box, "rootfs"))).toBe(false);
      },
    );
  }
});
