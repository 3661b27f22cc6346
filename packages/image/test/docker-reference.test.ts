import { describe, expect, it } from "vitest";
import { isLoopbackHost, parseDockerReference, parseImageReference } from "@strata-oci/image";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("docker:// references", () => {
  it("normalise as Docker does", () => {
    expect(parseDockerReference("//debian")).toEqual({
      registry: "docker.io",
      apiHost: "registry-1.docker.io",
      repository: "library/debian",
      tag: "latest",
      digest: undefined,
    });
    expect(parseDockerReference("//debian:bookworm")).toMatchObject({
      repository: "library/debian",
      tag: "bookworm",
    });
    expect(parseDockerReference("//org/app")).toMatchObject({
      registry: "docker.io",
      repository: "org/app",
      tag: "latest",
    });
    expect(parseDockerReference("//docker.io/debian")).toMatchObject({
      apiHost: "registry-1.docker.io",
      repository: "library/debian",
    });
    expect(parseDockerReference("//ghcr.io/org/app:v1.2")).toMatchObject({
      registry: "ghcr.io",
      apiHost: "ghcr.io",
      repository: "org/app",
      tag: "v1.2",
    });
    expect(parseDockerReference("//localhost:5000/app")).toMatchObject({
      registry: "localhost:5000",
      repository: "app",
      tag: "latest",
    });
    expect(parseDockerReference("//localhost/app")).toMatchObject({
      registry: "localhost",
      repository: "app",
    });
    expect(parseDockerReference(`//127.0.0.1:5000/a/b@${DIGEST}`)).toMatchObject({
      registry: "127.0.0.1:5000",
      repository: "a/b",
      tag: undefined,
      digest: DIGEST,
    });
    expect(parseDockerReference(`//quay.io/a/b:t@${DIGEST}`)).toMatchObject({
      tag: "t",
      digest: DIGEST,
    });
    expect(parseImageReference("docker://debian")).toMatchObject({
      transport: "docker",
      registry: { repository: "library/debian" },
    });
  });

  it("refuse what the distribution-spec grammar does not allow, with STRATA_BAD_REFERENCE", () => {
    for (const bad of [
      "debian",
      "//",
      "//Debian",
      "//a//b",
      "//app:bad tag",
      "//app@sha256:12",
      "//app:-x",
      `//${"a".repeat(256)}`,
      "//a/B/c",
    ]) {
      expect(() => parseDockerReference(bad), bad).toThrow(
        expect.objectContaining({ code: "STRATA_BAD_REFERENCE" }),
      );
    }
  });

  it("know which hosts are loopback (plain HTTP allowed there)", () => {
    expect(
      ["localhost", "localhost:5000", "127.0.0.1:80", "127.9.9.9", "[::1]:5000"].every(
        isLoopbackHost,
      ),
    ).toBe(true);
    expect(
      ["example.com", "10.0.0.1:5000", "127.0.0.1.nip.io", "localhost.example"].some(
        isLoopbackHost,
      ),
    ).toBe(false);
  });

  it("a registry name without docker:// is refused with the reference it most likely meant", () => {
    expect(() => parseImageReference("debian:bookworm")).toThrow(
      expect.objectContaining({
        code: "STRATA_BAD_REFERENCE",
        hint: expect.stringContaining("docker://debian:bookworm"),
      }),
    );
    expect(() => parseImageReference("nosuch:Not A Reference")).toThrow(
      expect.objectContaining({ hint: expect.not.stringContaining("is written docker://") }),
    );
  });
});
