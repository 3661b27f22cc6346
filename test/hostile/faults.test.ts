import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { encodeMember, writeTar, type TarMember } from "@strata-oci/layer";
import { writeOciLayout } from "@strata-oci/image";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";

const BIN = join(import.meta.dirname, "..", "..", "packages", "strata", "bin", "strata.js");
const root = mkdtempSync(join(tmpdir(), "strata-faults-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** An image of `files` files of `size` bytes of varied (so not tiny once gzipped) data. */
function dataImage(dir: string, files: number, size: number): string {
  // Slices of one random block: gzip cannot shrink them (its window is 32 KiB).
  const block = randomBytes(size + files * 4099);
  const members: TarMember[] = Array.from({ length: files }, (_, i) => ({
    name: `data/f${i}`,
    type: "file",
    data: block.subarray(i * 4099, i * 4099 + size),
  }));
  const layout = join(dir, "image");
  writeOciLayout(layout, {
    layers: [{ tar: writeTar(members), compress: (t) => gzipSync(t, { level: 1 }) }],
    tag: "t",
  });
  return `oci:${layout}:t`;
}

function stagingsIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes(".strata-staging-"));
}

describe("faults", () => {
  it(
    "kill -9 in the middle leaves no DEST; the next run removes the leftover staging " +
      "directory",
    async () => {
      const dir = join(root, "kill");
      mkdirSync(dir);
      const image = dataImage(dir, 400, 256 * 1024);
      const dest = join(dir, "dest");
      const child = spawn(process.execPath, [BIN, "unpack", "--quiet", image, dest], {
        stdio: "ignore",
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on("exit", (_code, signal) => resolve(signal)),
      );
      for (let i = 0; i < 2000; i++) {
        const staging = stagingsIn(dir)[0];
        if (
          staging !== undefined &&
          existsSync(join(dir, staging, "data")) &&
          readdirSync(join(dir, staging, "data")).length > 10
        )
          break;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      expect(existsSync(dest)).toBe(false);
      expect(stagingsIn(dir)).toHaveLength(1);
      const again = spawnSync(process.execPath, [BIN, "unpack", "--quiet", image, dest]);
      expect(again.status).toBe(0);
      expect(stagingsIn(dir)).toEqual([]);
      expect(readdirSync(join(dest, "data"))).toHaveLength(400);
    },
  );

  it("SIGINT in the middle exits 130 and leaves no DEST and no staging directory", async () => {
    const dir = join(root, "sigint");
    mkdirSync(dir);
    const image = dataImage(dir, 400, 256 * 1024);
    const child = spawn(process.execPath, [BIN, "unpack", "--quiet", image, join(dir, "dest")], {
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    for (let i = 0; i < 2000 && stagingsIn(dir).length === 0; i++)
      await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(readdirSync(dir)).toEqual(["image"]);
  });

  it("two unpacks of the same image into different DESTs at once both succeed", async () => {
    const dir = join(root, "concurrent");
    mkdirSync(dir);
    const image = dataImage(dir, 100, 64 * 1024);
    const run = (dest: string) =>
      new Promise<number | null>((resolve) =>
        spawn(process.execPath, [BIN, "unpack", "--quiet", image, join(dir, dest)], {
          stdio: "ignore",
        }).on("exit", resolve),
      );
    expect(await Promise.all([run("a"), run("b")])).toEqual([0, 0]);
    expect(diffSnapshots(snapshotDisk(join(dir, "a")), snapshotDisk(join(dir, "b")))).toEqual([]);
  });

  const canMount =
    process.getuid?.() === 0 && spawnSync("sh", ["-c", "command -v mount"]).status === 0;
  it.skipIf(!canMount)(
    "a full filesystem ends in STRATA_NO_SPACE and no DEST (2 MiB tmpfs)",
    () => {
      const dir = join(root, "full");
      mkdirSync(join(dir, "small"), { recursive: true });
      const image = dataImage(dir, 40, 128 * 1024);
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "strata-test", join(dir, "small")]);
      try {
        const result = spawnSync(
          process.execPath,
          [BIN, "unpack", "--quiet", image, join(dir, "small", "dest")],
          { encoding: "utf8" },
        );
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("code: STRATA_NO_SPACE");
        expect(readdirSync(join(dir, "small"))).toEqual([]);
      } finally {
        execFileSync("umount", [join(dir, "small")]);
      }
    },
  );

  it(
    "a gzip bomb (4 GiB of zeros in a few MB) is refused by --max-total-bytes with " +
      "flat memory",
    () => {
      const dir = join(root, "bomb");
      mkdirSync(dir);
      // Concatenated gzip members are one valid gzip stream: 64 members of a
      // 64 MiB zero file each, built without ever holding 4 GiB.
      const chunk = Buffer.alloc(64 << 20);
      const zeros = gzipSync(chunk, { level: 9 });
      const parts: Buffer[] = [];
      for (let i = 0; i < 64; i++) {
        const header =
          encodeMember({ name: `zero${i}`, type: "file", data: chunk })[0] ?? Buffer.alloc(0);
        parts.push(gzipSync(header), zeros);
      }
      parts.push(gzipSync(Buffer.alloc(1024)));
      const blob = Buffer.concat(parts);
      const layout = join(dir, "image");
      writeOciLayout(layout, {
        layers: [{ tar: Buffer.alloc(0), compress: () => blob }],
        tag: "t",
      });
      expect(blob.length).toBeLessThan(8 << 20);
      const timed = spawnSync(
        "/usr/bin/time",
        [
          "-f",
          "%M",
          process.execPath,
          BIN,
          "unpack",
          "--quiet",
          "--max-total-bytes",
          "1G",
          `oci:${layout}:t`,
          join(dir, "dest"),
        ],
        { encoding: "utf8" },
      );
      expect(timed.stderr).toContain("code: STRATA_LIMIT_EXCEEDED");
      const rssMb = Number(timed.stderr.trim().split("\n").pop()) / 1024;
      console.log(
        `gzip bomb: blob ${(blob.length / 2 ** 20).toFixed(1)} MiB, refused after 1 GiB, ` +
          `peak RSS ` +
          `${rssMb.toFixed(0)} MB`,
      );
      expect(rssMb).toBeLessThan(250);
      expect(readdirSync(dir)).toEqual(["image"]);
    },
  );
});
