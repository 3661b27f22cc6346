// Proxies as users set them (#22.4): HTTPS_PROXY through a CONNECT tunnel
// (TLS to the registry end to end), HTTP_PROXY with absolute URLs, NO_PROXY's
// exceptions, proxy credentials, a refused tunnel as a typed error. The
// registry is named registry.strata.test, which only the test proxy
// resolves: a request that reaches it went through the proxy.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyImage, proxyFor } from "@strata-oci/image";
import { startProxy, type TestProxy } from "../../../test/support/connect-proxy.js";
import { tempDir } from "../../../test/support/layers.js";
import {
  makeCertificates,
  registryUnavailable,
  startRegistry,
  type TestCertificates,
  type TestRegistry,
} from "../../../test/support/registry.js";

const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
const NAME = "registry.strata.test";

describe("which requests a proxy carries (Go's rules)", () => {
  const settings = (noProxy: string) => ({
    httpsProxy: "proxy.example:3128",
    httpProxy: "http://proxy.example:3128",
    noProxy,
  });
  const via = (url: string, noProxy = "") => proxyFor(new URL(url), settings(noProxy))?.href;
  it.each([
    ["https://registry.example/v2/", "", "http://proxy.example:3128/"],
    ["http://registry.example/v2/", "", "http://proxy.example:3128/"],
    ["https://127.0.0.1:5000/v2/", "", undefined],
    ["https://localhost:5000/v2/", "", undefined],
    ["https://[::1]:5000/v2/", "", undefined],
    ["https://registry.example/v2/", "*", undefined],
    ["https://registry.example/v2/", "example", undefined],
    ["https://registry.example/v2/", "registry.example", undefined],
    ["https://a.registry.example/v2/", "registry.example", undefined],
    ["https://registry.example/v2/", ".registry.example", "http://proxy.example:3128/"],
    ["https://a.registry.example/v2/", ".registry.example", undefined],
    ["https://registry.example:5000/v2/", "registry.example:5000", undefined],
    ["https://registry.example/v2/", "registry.example:5000", "http://proxy.example:3128/"],
    ["https://10.1.2.3/v2/", "10.0.0.0/8", undefined],
    ["https://11.1.2.3/v2/", "10.0.0.0/8", "http://proxy.example:3128/"],
    ["https://10.1.2.3:5000/v2/", " other.example , 10.1.2.3", undefined],
    ["https://[fd00::1]/v2/", "fd00::/8", undefined],
    ["https://notregistry.example/v2/", "registry.example", "http://proxy.example:3128/"],
  ])("%s with NO_PROXY=%j goes through %s", (url, noProxy, expected) => {
    expect(via(url, noProxy)).toBe(expected);
  });
});

const unavailable = registryUnavailable();
const work = tempDir("strata-proxy-");
let registry: TestRegistry;
let plain: TestRegistry;
let certs: TestCertificates;
let proxy: TestProxy;
let port = "";
let plainPort = "";

describe.skipIf(unavailable !== undefined)("a registry behind a proxy", () => {
  beforeAll(async () => {
    mkdirSync(join(work.path, "certs"));
    certs = makeCertificates(join(work.path, "certs"));
    mkdirSync(join(work.path, "tls"));
    registry = await startRegistry(join(work.path, "tls"), { tls: certs });
    mkdirSync(join(work.path, "plain"));
    plain = await startRegistry(join(work.path, "plain"));
    port = registry.host.split(":")[1] as string;
    plainPort = plain.host.split(":")[1] as string;
    // Pushed directly: loopback is never proxied.
    const registryOptions = { certDir: join(work.path, "certs") };
    await copyImage({
      image: SAMPLE,
      destination: `docker://${registry.host}/strata/sample:1`,
      registry: registryOptions,
    });
    await copyImage({ image: SAMPLE, destination: `docker://${plain.host}/strata/sample:1` });
    proxy = await startProxy({ [NAME]: "127.0.0.1" }, "proxyuser:proxypass");
  }, 60_000);
  afterAll(async () => {
    registry?.stop();
    plain?.stop();
    await proxy?.stop();
    work.remove();
  });

  /**
   * strata ARGS with the proxy settings `env`; asynchronous, since the proxy answers from this
   * process.
   */
  function strata(
    env: Record<string, string>,
    ...args: string[]
  ): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !/_proxy$/i.test(key)),
    );
    const child = spawn(BIN, args, { env: { ...clean, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    return new Promise((resolve) =>
      child.on("close", (status) => resolve({ status, stdout, stderr })),
    );
  }
  const certDir = (): string[] => ["--cert-dir", join(work.path, "certs")];

  it("HTTPS_PROXY: inspect and unpack through a CONNECT tunnel, TLS verified end to end", async () => {
    proxy.log.length = 0;
    const image = `docker://${NAME}:${port}/strata/sample:1`;
    const env = { HTTPS_PROXY: proxy.url };
    const inspected = await strata(env, "inspect", ...certDir(), image);
    expect(inspected.status, inspected.stderr).toBe(0);
    const unpacked = await strata(
      env,
      "unpack",
      "-q",
      ...certDir(),
      image,
      join(work.path, "rootfs"),
    );
    expect(unpacked.status, unpacked.stderr).toBe(0);
    expect(proxy.log.length).toBeGreaterThan(0);
    expect(proxy.log.every((r) => r.method === "CONNECT" && r.target === `${NAME}:${port}`)).toBe(
      true,
    );
    expect(proxy.log.every((r) => r.authorized)).toBe(true);
    // Without the proxy the name does not resolve: the tunnel was the only way there.
    const direct = await strata({}, "inspect", ...certDir(), image);
    expect(direct.stderr).toContain("code: STRATA_REGISTRY_UNREACHABLE");
  });

  it("NO_PROXY exempts the host: strata goes direct (and cannot resolve it)", async () => {
    proxy.log.length = 0;
    const run = await strata(
      { HTTPS_PROXY: proxy.url, NO_PROXY: `other.test,.strata.test` },
      "inspect",
      ...certDir(),
      `docker://${NAME}:${port}/strata/sample:1`,
    );
    expect(run.stderr).toContain("code: STRATA_REGISTRY_UNREACHABLE");
    expect(proxy.log).toEqual([]);
  });

  it("HTTP_PROXY: a plain-HTTP registry (--tls-verify=false) asked by absolute URL", async () => {
    proxy.log.length = 0;
    const run = await strata(
      { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url },
      "inspect",
      "--tls-verify=false",
      `docker://${NAME}:${plainPort}/strata/sample:1`,
    );
    expect(run.status, run.stderr).toBe(0);
    expect(proxy.log.some((r) => r.method === "GET" && r.target === `${NAME}:${plainPort}`)).toBe(
      true,
    );
  });

  it("a proxy that refuses the tunnel, or wants other credentials, is a typed error", async () => {
    const image = `docker://${NAME}:${port}/strata/sample:1`;
    proxy.refuseWith = 403;
    try {
      const refused = await strata({ HTTPS_PROXY: proxy.url }, "inspect", ...certDir(), image);
      expect(refused.stderr).toContain(`through the proxy 127.0.0.1`);
      expect(refused.stderr).toContain("403");
      expect(refused.stderr).toContain("code: STRATA_REGISTRY_UNREACHABLE");
      expect(refused.stderr).not.toContain("internal error");
    } finally {
      proxy.refuseWith = undefined;
    }
    const wrong = await strata(
      { HTTPS_PROXY: proxy.url.replace("proxypass", "nope") },
      "inspect",
      ...certDir(),
      image,
    );
    expect(wrong.stderr).toContain("407");
    expect(wrong.status).toBe(1);
  });
});
