// Pushing as the distribution-spec says (#22.3), to Debian's docker-registry
// (with Basic auth) through a proxy that breaks pushes on purpose: chunked
// uploads (PATCH with Content-Range, PUT with the digest), the fall back to
// chunks when a PUT is too large (413), a PATCH cut off and resumed from the
// registry's Range, and each refusal (403, 400 DIGEST_INVALID, a Location
// that is no URL, an upload URL on another host) a typed error with no tag
// left pointing at missing blobs; credentials never sent to another origin.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyImage, openImage, type RegistryOptions } from "@strata-oci/image";
import { tempDir } from "../../../test/support/layers.js";
import { startPushProxy, type PushProxy } from "../../../test/support/push-faults.js";
import {
  registryUnavailable,
  startRegistry,
  type TestRegistry,
} from "../../../test/support/registry.js";

const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const unavailable = registryUnavailable();
const work = tempDir("strata-push-");
let registry: TestRegistry;
let proxy: PushProxy;
let n = 0;
const creds = { username: "pusher", password: "s3cret" };

describe.skipIf(unavailable !== undefined)("pushing through a registry's faults", () => {
  beforeAll(async () => {
    mkdirSync(join(work.path, "registry"));
    registry = await startRegistry(join(work.path, "registry"), {
      htpasswd: { user: creds.username, password: creds.password },
    });
    proxy = await startPushProxy(registry.host);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    registry?.stop();
    work.remove();
  });

  const push = (options: Partial<RegistryOptions> = {}) => {
    const destination = `docker://${proxy.host}/strata/push-${n++}:t`;
    return {
      destination,
      copied: copyImage({
        image: SAMPLE,
        destination,
        registry: { creds, retry: { attempts: 2, delayMs: 10 }, ...options },
      }),
    };
  };
  /** The cut PATCH and what followed on the same upload (blobs go three at a time). */
  const afterCut = () => {
    const cut = proxy.log.find((r) => r.method === "PATCH" && r.status === 0);
    const upload = /\/uploads\/([^?/]+)/.exec(cut?.path ?? "")?.[1] ?? "none";
    const same = proxy.log.filter((r) => r.path.includes(upload));
    return { cut, next: same.slice(same.indexOf(cut as (typeof same)[number]) + 1) };
  };
  /** The tag's manifest as the registry serves it, or the error that there is none. */
  const tagged = (destination: string) =>
    openImage({ image: destination, registry: { creds } }).then(
      (image) => image.manifest?.digest,
      (error: { code?: string }) => error.code,
    );

  it("streamed: a blob over monolithicMax goes in one PATCH without Content-Range", async () => {
    proxy.faults = {};
    proxy.log.length = 0;
    const { destination, copied } = push({ upload: { monolithicMax: 0 } });
    const result = await copied;
    const patches = proxy.log.filter((r) => r.method === "PATCH");
    expect(patches).toHaveLength(4); // three layers and the config
    expect(patches.every((r) => r.range === undefined && r.status === 202)).toBe(true);
    expect(await tagged(destination)).toBe(result.manifest.digest);
  });

  it("in chunks: PATCHes with their Content-Range, then the PUT with the digest", async () => {
    proxy.faults = {};
    proxy.log.length = 0;
    const { destination, copied } = push({ upload: { monolithicMax: 0, chunkSize: 200 } });
    const result = await copied;
    const patches = proxy.log.filter((r) => r.method === "PATCH");
    // The sample's biggest layer (623 bytes) went in four chunks.
    expect(patches.map((r) => r.range)).toEqual(
      expect.arrayContaining(["0-199", "200-399", "400-599", "600-622"]),
    );
    expect(patches.every((r) => r.status === 202 && r.authorization)).toBe(true);
    expect(await tagged(destination)).toBe(result.manifest.digest);
  });

  it("a monolithic PUT refused as too large (413) is sent again, streamed", async () => {
    proxy.faults = { refuseLargePut: true };
    proxy.log.length = 0;
    const { destination, copied } = push();
    const result = await copied;
    expect(proxy.log.some((r) => r.method === "PUT" && r.status === 413)).toBe(true);
    expect(proxy.log.some((r) => r.method === "PATCH" && r.status === 202)).toBe(true);
    expect(await tagged(destination)).toBe(result.manifest.digest);
  });

  it.each([1, 2])(
    "chunk PATCH number %i cut off: the push goes on from where the registry got (GET, Range)",
    async (cut) => {
      proxy.faults = { cutPatch: cut };
      proxy.log.length = 0;
      const { destination, copied } = push({ upload: { monolithicMax: 0, chunkSize: 200 } });
      const result = await copied;
      const { cut: lost, next } = afterCut();
      expect(lost?.range).toMatch(/^\d+-\d+$/);
      // The status asked for, then the same bytes sent again, accepted.
      expect(next[0]).toMatchObject({ method: "GET", status: 204 });
      expect(next[1]).toMatchObject({ method: "PATCH", range: lost?.range, status: 202 });
      expect(await tagged(destination)).toBe(result.manifest.digest);
    },
  );

  it("a streamed PATCH cut off goes on in chunks from where the registry got to", async () => {
    proxy.faults = { cutPatch: 1 };
    proxy.log.length = 0;
    const { destination, copied } = push({ upload: { monolithicMax: 0 } });
    const result = await copied;
    const { cut, next } = afterCut();
    // Streamed: no Content-Range; resumed with one, from byte 0 (nothing had arrived).
    expect(cut?.range).toBe("undefined");
    expect(next[0]).toMatchObject({ method: "GET", status: 204 });
    expect(next[1]).toMatchObject({ method: "PATCH", range: expect.stringMatching(/^0-\d+$/) });
    expect(await tagged(destination)).toBe(result.manifest.digest);
  });

  it.each([
    ["a refused upload (403)", { denyUploads: true }, "STRATA_REGISTRY_DENIED", /refused access/],
    ["a disputed digest (400)", { disputeDigest: true }, "STRATA_REGISTRY_ERROR", /DIGEST_INVALID/],
    [
      "a Location that is no URL",
      { badLocation: true },
      "STRATA_REGISTRY_ERROR",
      /no usable Location/,
    ],
  ] as const)(
    "%s is a typed error, and no tag is written",
    async (_name, faults, code, message) => {
      proxy.faults = faults;
      const { destination, copied } = push();
      await expect(copied).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
      proxy.faults = {};
      expect(await tagged(destination)).toBe("STRATA_MANIFEST_NOT_FOUND");
    },
  );

  it("an upload URL on another host gets no credentials (and so fails typed, no tag)", async () => {
    proxy.faults = { foreignLocation: true };
    proxy.log.length = 0;
    const { destination, copied } = push();
    await expect(copied).rejects.toMatchObject({ code: "STRATA_REGISTRY_DENIED" });
    const foreign = proxy.log.filter((r) => r.port === "foreign");
    expect(foreign.length).toBeGreaterThan(0);
    expect(foreign.some((r) => r.authorization)).toBe(false);
    expect(
      proxy.log.filter((r) => r.port === "main").every((r) => r.authorization || r.status === 401),
    ).toBe(true);
    proxy.faults = {};
    expect(await tagged(destination)).toBe("STRATA_MANIFEST_NOT_FOUND");
  });
});
