import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "@strata/image";
import { writeTar } from "@strata/layer";
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

  it("bundle writes config.json with the command after --, --env and --user, and refuses a bad --args", () => {
    const dir = join(work.path, "bundle");
    const { status, stdout } = strata("bundle", "--env", "A=1", "--user", "1000:1000", "oci:fixtures/sample/oci:sample", dir, "--", "/bin/sh", "-c", "echo hi");
    expect(status).toBe(0);
    expect(stdout).toContain("runc run -b");
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { process: { args: string[]; env: string[]; user: unknown } };
    expect(config.process.args).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(config.process.env).toContain("A=1");
    expect(config.process.user).toEqual({ uid: 1000, gid: 1000 });
    expect(strata("bundle", "--args", "not json", "oci:fixtures/sample/oci:sample", join(work.path, "b2")).status).toBe(2);
    expect(strata("bundle", "--help").stdout).toContain("runc run -b");
  });

  it("unpack and bundle both report the workarounds a rootless unpack takes", () => {
    const layout = join(work.path, "device-image");
    writeOciLayout(layout, { layers: [{ tar: writeTar([{ name: "dev/", type: "dir" }, { name: "dev/null", type: "char", devMajor: 1, devMinor: 3 }]) }], tag: "t" });
    const unpacked = strata("unpack", "--rootless", `oci:${layout}:t`, join(work.path, "rootless-rootfs"));
    expect(unpacked.status).toBe(0);
    expect(unpacked.stderr).toContain("warning: 1 × device-replaced");
    const bundled = strata("bundle", "--rootless", `oci:${layout}:t`, join(work.path, "rootless-bundle"), "--", "/bin/true");
    expect(bundled.status).toBe(0);
    expect(bundled.stderr).toContain("warning: 1 × device-replaced");
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
