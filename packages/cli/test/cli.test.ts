import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/layers.js";

// Runs the built command as a user would (the test script builds first).
const BIN = join(import.meta.dirname, "..", "bin", "strata.js");
const work = tempDir("strata-cli-");
afterAll(() => work.remove());

function strata(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("strata command", () => {
  it("--help teaches the commands and the image syntax", () => {
    const { status, stdout } = strata("--help");
    expect(status).toBe(0);
    expect(stdout).toContain("strata unpack");
    expect(stdout).toContain("oci:DIR[:TAG]");
    expect(strata("unpack", "--help").stdout).toContain("--platform");
    expect(strata("inspect", "--help").stdout).toContain("--json");
  });

  it("--version prints the version", () => {
    expect(strata("--version").stdout).toMatch(/^strata \d+\.\d+\.\d+\n$/);
  });

  it("exits 2 on bad usage", () => {
    expect(strata().status).toBe(2);
    expect(strata("unpack", "only-one").status).toBe(2);
    expect(strata("frobnicate").status).toBe(2);
    expect(strata("unpack", "--bogus", "a", "b").status).toBe(2);
  });

  it("unpacks the sample and says what it did", () => {
    const dest = join(work.path, "rootfs");
    const { status, stdout } = strata("unpack", "oci:fixtures/sample/oci:sample", dest);
    expect(status).toBe(0);
    expect(stdout).toMatch(/unpacked .*3 layers/);
    expect(existsSync(join(dest, "etc/motd"))).toBe(true);
  });

  it("exits 1 with the error code and a hint when the image is refused", () => {
    const { status, stderr } = strata("unpack", "oci:fixtures/sample/oci:nosuchtag", join(work.path, "x"));
    expect(status).toBe(1);
    expect(stderr).toContain("STRATA_MANIFEST_NOT_FOUND");
    expect(stderr).toContain("hint:");
    expect(existsSync(join(work.path, "x"))).toBe(false);
  });

  it("inspect prints layers with sizes and media types, and --json parses", () => {
    const text = strata("inspect", "oci:fixtures/sample/oci:sample");
    expect(text.status).toBe(0);
    expect(text.stdout).toContain("application/vnd.oci.image.layer.v1.tar+gzip");
    const json = JSON.parse(strata("inspect", "--json", "oci:fixtures/sample/oci:sample").stdout) as { layers: unknown[]; config: { runtime: { User: string } } };
    expect(json.layers).toHaveLength(3);
    expect(json.config.runtime.User).toBe("app");
  });
});
