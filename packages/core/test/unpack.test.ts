import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeTar } from "@strata-oci/layer";
import { writeOciLayout } from "@strata-oci/image";
import { unpack, type UnpackProgress } from "@strata-oci/core";
import { perTestDirs } from "../../../test/support/temp-dirs.js";

const sandbox = perTestDirs();

function image(dir: string, layers: Parameters<typeof writeTar>[0][]): string {
  const layout = join(dir, "image");
  writeOciLayout(layout, { layers: layers.map((members) => ({ tar: writeTar(members) })) });
  return layout;
}

describe("unpack", () => {
  it("unpacks into a new directory and reports progress in order", async () => {
    const dir = sandbox();
    const events: UnpackProgress["kind"][] = [];
    const result = await unpack({
      image: image(dir, [
        [{ name: "a", type: "file", data: "1" }],
        [{ name: "b", type: "file", data: "22" }],
      ]),
      dest: join(dir, "rootfs"),
      onProgress: (e) => events.push(e.kind),
    });
    expect(result).toMatchObject({ layers: 2, entries: 2, bytes: 3 });
    expect(readFileSync(join(dir, "rootfs", "b"), "utf8")).toBe("22");
    expect(events[0]).toBe("image");
    expect(events.filter((e) => e === "layer-done")).toHaveLength(2);
    expect(statSync(join(dir, "rootfs")).mode & 0o777).toBe(0o755);
  });

  it("accepts an empty existing directory and refuses a non-empty one", async () => {
    const dir = sandbox();
    const layout = image(dir, [[{ name: "a", type: "file" }]]);
    mkdirSync(join(dir, "empty"));
    await unpack({ image: layout, dest: join(dir, "empty") });
    expect(existsSync(join(dir, "empty", "a"))).toBe(true);
    mkdirSync(join(dir, "full"));
    writeFileSync(join(dir, "full", "keep"), "mine");
    await expect(unpack({ image: layout, dest: join(dir, "full") })).rejects.toMatchObject({
      code: "STRATA_DEST_NOT_EMPTY",
    });
    expect(readdirSync(join(dir, "full"))).toEqual(["keep"]);
  });

  it("a DEST whose parent is missing or not writable is a clear error", async () => {
    const dir = sandbox();
    const layout = image(dir, [[{ name: "a", type: "file" }]]);
    await expect(
      unpack({ image: layout, dest: join(dir, "missing", "rootfs") }),
    ).rejects.toMatchObject({ code: "STRATA_BAD_DESTINATION" });
    await expect(unpack({ image: layout, dest: "/proc/strata-rootfs" })).rejects.toMatchObject({
      code: "STRATA_BAD_DESTINATION",
    });
  });

  it("a failure in a later layer leaves no DEST and no staging directory", async () => {
    const dir = sandbox();
    const layout = image(dir, [
      [{ name: "a", type: "file" }],
      [{ name: "b", type: "hardlink", linkname: "missing" }],
    ]);
    await expect(unpack({ image: layout, dest: join(dir, "rootfs") })).rejects.toMatchObject({
      code: "STRATA_BAD_HARDLINK",
      context: { image: `oci:${layout}`, entry: "b" },
    });
    expect(readdirSync(dir)).toEqual(["image"]);
  });

  it("a corrupt blob fails with the image and layer named, and leaves nothing", async () => {
    const dir = sandbox();
    const layout = join(dir, "image");
    const { layerDigests } = writeOciLayout(layout, {
      layers: [{ tar: writeTar([{ name: "a", type: "file", data: "x".repeat(1000) }]) }],
    });
    const digest = layerDigests[0] ?? "";
    const blob = join(layout, "blobs", "sha256", digest.slice(7));
    const bytes = readFileSync(blob);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(blob, bytes);
    await expect(unpack({ image: layout, dest: join(dir, "rootfs") })).rejects.toMatchObject({
      context: { layer: digest },
    });
    expect(readdirSync(dir)).toEqual(["image"]);
  });

  it("stops when aborted and leaves nothing", async () => {
    const dir = sandbox();
    const layout = image(dir, [
      Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, type: "file" as const })),
    ]);
    const controller = new AbortController();
    controller.abort();
    await expect(
      unpack({ image: layout, dest: join(dir, "rootfs"), signal: controller.signal }),
    ).rejects.toMatchObject({ code: "STRATA_ABORTED" });
    expect(readdirSync(dir)).toEqual(["image"]);
  });

  it("writes the root's attributes from a root entry, after everything else", async () => {
    const dir = sandbox();
    const layout = image(dir, [
      [
        { name: "./", type: "dir", mode: 0o750, mtime: 1234 },
        { name: "a", type: "file" },
      ],
    ]);
    await unpack({ image: layout, dest: join(dir, "rootfs") });
    const stats = statSync(join(dir, "rootfs"));
    expect(stats.mode & 0o777).toBe(0o750);
    expect(stats.mtimeMs).toBe(1234_000);
  });

  it("the bundled sample image unpacks as its script says", async () => {
    const dir = sandbox();
    await unpack({ image: "oci:fixtures/sample/oci:sample", dest: join(dir, "rootfs") });
    const root = join(dir, "rootfs");
    expect(readFileSync(join(root, "etc/os-release"), "utf8")).toContain("VERSION_ID=2");
    expect(readdirSync(join(root, "var/cache"))).toEqual(["fresh"]);
    expect(existsSync(join(root, "home/app/notes.txt"))).toBe(false);
    expect(existsSync(join(root, "usr/bin/su"))).toBe(false);
    expect(statSync(join(root, "opt")).isDirectory()).toBe(true);
    expect(statSync(join(root, "usr/bin/hi")).ino).toBe(statSync(join(root, "usr/bin/hello")).ino);
    rmSync(root, { recursive: true });
  });
});
