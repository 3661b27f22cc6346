import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "@strata-oci/image";
import { writeTar } from "@strata-oci/layer";
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

  it("--version prints the version and the backends in use", () => {
    const lines = strata("--version").stdout.split("\n");
    expect(lines[0]).toMatch(/^strata \d+\.\d+\.\d+ \(node v\d+\.\d+\.\d+, linux-(x64|arm64)\)$/);
    expect(lines[1]).toMatch(
      /^gzip +(ISA-L, (prebuilt|built here)|zlib \(ISA-L unavailable \(.+\)\))$/,
    );
    expect(lines[2]).toMatch(/^zstd +(native \(zstd-napi\)|JS \(fzstd)/);
    expect(lines[3]).toMatch(
      /^native calls +((prebuilt|built here) \(xattrs, mknod\)|unavailable)/,
    );
  });

  it(
    "a copy of the command whose bundle was never built says so, with a code and a hint (no " +
      "stack trace)",
    () => {
      const copy = join(work.path, "unbuilt");
      mkdirSync(join(copy, "bin"), { recursive: true });
      mkdirSync(join(copy, "dist"));
      for (const name of ["strata.cjs", "load-cli.cjs"])
        cpSync(join(import.meta.dirname, "..", "bin", name), join(copy, "bin", name));
      const run = spawnSync(process.execPath, [join(copy, "bin", "strata.cjs"), "--version"], {
        encoding: "utf8",
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("code: STRATA_INSTALL_INCOMPLETE");
      expect(run.stderr).toContain("pnpm run build");
      expect(run.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
    },
  );

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
    const { status, stderr } = strata(
      "unpack",
      "oci:fixtures/sample/oci:nosuchtag",
      join(work.path, "x"),
    );
    expect(status).toBe(1);
    expect(stderr).toContain("STRATA_MANIFEST_NOT_FOUND");
    expect(stderr).toContain("hint:");
    expect(existsSync(join(work.path, "x"))).toBe(false);
  });

  it(
    "bundle writes config.json with the command after --, --env and --user, and refuses a " +
      "bad --args",
    () => {
      const dir = join(work.path, "bundle");
      const { status, stdout } = strata(
        "bundle",
        "--env",
        "A=1",
        "--user",
        "1000:1000",
        "oci:fixtures/sample/oci:sample",
        dir,
        "--",
        "/bin/sh",
        "-c",
        "echo hi",
      );
      expect(status).toBe(0);
      expect(stdout).toContain("runc run -b");
      const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as {
        process: { args: string[]; env: string[]; user: unknown };
      };
      expect(config.process.args).toEqual(["/bin/sh", "-c", "echo hi"]);
      expect(config.process.env).toContain("A=1");
      expect(config.process.user).toEqual({ uid: 1000, gid: 1000 });
      expect(
        strata(
          "bundle",
          "--args",
          "not json",
          "oci:fixtures/sample/oci:sample",
          join(work.path, "b2"),
        ).status,
      ).toBe(2);
      expect(strata("bundle", "--help").stdout).toContain("runc run -b");
    },
  );

  it("unpack and bundle both report the workarounds a rootless unpack takes", () => {
    const layout = join(work.path, "device-image");
    writeOciLayout(layout, {
      layers: [
        {
          tar: writeTar([
            { name: "dev/", type: "dir" },
            { name: "dev/null", type: "char", devMajor: 1, devMinor: 3 },
          ]),
        },
      ],
      tag: "t",
    });
    const unpacked = strata(
      "unpack",
      "--rootless",
      `oci:${layout}:t`,
      join(work.path, "rootless-rootfs"),
    );
    expect(unpacked.status).toBe(0);
    expect(unpacked.stderr).toContain("warning: 1 × device-replaced");
    const bundled = strata(
      "bundle",
      "--rootless",
      `oci:${layout}:t`,
      join(work.path, "rootless-bundle"),
      "--",
      "/bin/true",
    );
    expect(bundled.status).toBe(0);
    expect(bundled.stderr).toContain("warning: 1 × device-replaced");
  });

  it("inspect prints layers with sizes and media types, and --json parses", () => {
    const text = strata("inspect", "oci:fixtures/sample/oci:sample");
    expect(text.status).toBe(0);
    expect(text.stdout).toContain("application/vnd.oci.image.layer.v1.tar+gzip");
    const json = JSON.parse(
      strata("inspect", "--json", "oci:fixtures/sample/oci:sample").stdout,
    ) as { layers: unknown[]; config: { runtime: { User: string } } };
    expect(json.layers).toHaveLength(3);
    expect(json.config.runtime.User).toBe("app");
  });

  it(
    "#9: bare strata and help for a non-command are usage errors on stderr; --max-entries 0 " +
      "names the flag",
    () => {
      const bare = strata();
      expect(bare.status).toBe(2);
      expect(bare.stdout).toBe("");
      expect(bare.stderr).toContain("strata unpack");
      const bogus = strata("help", "bogus");
      expect(bogus.status).toBe(2);
      expect(bogus.stderr).toContain("bogus");
      expect(strata("help", "unpack").stdout).toContain("--platform");
      const zero = strata(
        "unpack",
        "--max-entries",
        "0",
        "oci:fixtures/sample/oci:sample",
        join(work.path, "zero"),
      );
      expect(zero.status).toBe(2);
      expect(zero.stderr).toContain("--max-entries");
    },
  );

  it(
    "#9: destinations that are empty, symlinks, dangling symlinks, through link/.. or inside " +
      "the layout are refused before any work",
    () => {
      const base = join(work.path, "dests");
      mkdirSync(join(base, "real", "sub"), { recursive: true });
      symlinkSync(join(base, "real", "sub"), join(base, "link"));
      symlinkSync(join(base, "nowhere"), join(base, "dangling"));
      mkdirSync(join(base, "empty"));
      symlinkSync(join(base, "empty"), join(base, "to-empty"));
      const layout = join(base, "layout");
      writeOciLayout(layout, {
        layers: [{ tar: writeTar([{ name: "f", type: "file", data: "x" }]) }],
        tag: "t",
      });
      const image = `oci:${layout}:t`;
      for (const dest of [
        "",
        join(base, "to-empty"),
        join(base, "dangling"),
        join(layout, "rootfs"),
      ]) {
        const result = strata("unpack", "--quiet", image, dest);
        expect(result.status, dest).toBe(1);
        expect(result.stderr).toContain("code: STRATA_BAD_DESTINATION");
      }
      // bundle checks its DIR the same way.
      const bundled = strata("bundle", "--quiet", image, join(base, "to-empty"));
      expect(bundled.status).toBe(1);
      expect(bundled.stderr).toContain("code: STRATA_BAD_DESTINATION");
      // link/../d is where the kernel puts it: beside link's target, not beside link.
      const through = strata("unpack", "--quiet", image, `${join(base, "link")}/../d`);
      expect(through.status).toBe(0);
      expect(readFileSync(join(base, "real", "d", "f"), "utf8")).toBe("x");
      expect(existsSync(join(base, "d"))).toBe(false);
    },
  );
});
