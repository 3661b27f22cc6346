import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeTar, type TarMember } from "@strata-oci/layer";
import { writeOciLayout } from "@strata-oci/image";
import { bundle } from "@strata-oci/bundle";
import { perTestDirs } from "../../../test/support/temp-dirs.js";

const dir = perTestDirs();

function image(root: string, members: TarMember[], runtime: Record<string, unknown>): string {
  const layout = join(root, "image");
  writeOciLayout(layout, { layers: [{ tar: writeTar(members) }], runtime });
  return layout;
}

const passwd: TarMember = {
  name: "etc/passwd",
  type: "file",
  data: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
};

describe("bundle", () => {
  it("writes config.json and rootfs into a 0700 directory", async () => {
    const root = dir();
    const result = await bundle({
      image: image(root, [{ name: "etc/", type: "dir" }, passwd], {
        Cmd: ["/bin/sh"],
        User: "app",
      }),
      dir: join(root, "b"),
    });
    expect(statSync(join(root, "b")).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(root, "b")).sort()).toEqual(["config.json", "rootfs"]);
    const config = JSON.parse(readFileSync(join(root, "b", "config.json"), "utf8")) as {
      process: { user: unknown };
    };
    expect(config.process.user).toEqual({ uid: 1000, gid: 1000 });
    expect(result.config).toEqual(config);
  });

  it("an unknown user is a clear error and leaves no DIR", async () => {
    const root = dir();
    await expect(
      bundle({ image: image(root, [passwd], { Cmd: ["x"], User: "ghost" }), dir: join(root, "b") }),
    ).rejects.toMatchObject({ code: "STRATA_UNKNOWN_USER" });
    expect(readdirSync(root)).toEqual(["image"]);
  });

  it("a named user with no /etc/passwd in the image is a clear error", async () => {
    const root = dir();
    await expect(
      bundle({
        image: image(root, [{ name: "x", type: "file" }], { Cmd: ["x"], User: "app" }),
        dir: join(root, "b"),
      }),
    ).rejects.toMatchObject({ code: "STRATA_UNKNOWN_USER" });
  });

  it("malformed passwd lines are skipped, not fatal", async () => {
    const root = dir();
    const members: TarMember[] = [
      {
        name: "etc/passwd",
        type: "file",
        data: "garbage\n:::\napp:x:1000:1000::/home/app:/bin/sh\nx:x:y:z:::\n",
      },
    ];
    const result = await bundle({
      image: image(root, members, { Cmd: ["x"], User: "app" }),
      dir: join(root, "b"),
    });
    expect((result.config.process as { user: unknown }).user).toEqual({ uid: 1000, gid: 1000 });
  });

  it("a symlinked /etc/passwd resolves inside the rootfs, never on the host", async () => {
    const root = dir();
    // A host file the link's target names; strata must not read it.
    mkdirSync(join(root, "host", "etc"), { recursive: true });
    writeFileSync(join(root, "host", "etc", "passwd"), "hostonly:x:4242:4242::/:/bin/sh\n");
    const members: TarMember[] = [
      { name: "etc/", type: "dir" },
      { name: "etc/passwd", type: "symlink", linkname: `${root}/host/etc/passwd` },
    ];
    await expect(
      bundle({
        image: image(root, members, { Cmd: ["x"], User: "hostonly" }),
        dir: join(root, "b"),
      }),
    ).rejects.toMatchObject({ code: "STRATA_UNKNOWN_USER" });
    const inside: TarMember[] = [
      { name: "etc/", type: "dir" },
      { name: "real/", type: "dir" },
      { name: "real/passwd", type: "file", data: "inside:x:7:7::/:/bin/sh\n" },
      { name: "etc/passwd", type: "symlink", linkname: "../../../real/passwd" },
    ];
    const root2 = dir();
    const result = await bundle({
      image: image(root2, inside, { Cmd: ["x"], User: "inside" }),
      dir: join(root2, "b"),
    });
    expect((result.config.process as { user: unknown }).user).toEqual({ uid: 7, gid: 7 });
  });
});

// Issue #26.5: /etc/passwd or /etc/group a FIFO (or a symlink to one) hung bundle in a synchronous
// open that no signal could end, leaving its staging (and, from the store, a mount) behind.
describe("account files that are not files", () => {
  for (const [name, members] of [
    [
      "/etc/passwd a FIFO",
      [
        { name: "etc/", type: "dir" },
        { name: "etc/passwd", type: "fifo" },
      ],
    ],
    [
      "/etc/group a FIFO",
      [{ name: "etc/", type: "dir" }, passwd, { name: "etc/group", type: "fifo" }],
    ],
    [
      "/etc/passwd a symlink to a FIFO",
      [
        { name: "etc/", type: "dir" },
        { name: "run/pipe", type: "fifo" },
        { name: "etc/passwd", type: "symlink", linkname: "../run/pipe" },
      ],
    ],
  ] as Array<[string, TarMember[]]>) {
    it(`${name}: STRATA_BAD_RUNTIME_CONFIG at once, no DIR or staging left`, async () => {
      const root = dir();
      const started = Date.now();
      await expect(
        bundle({ image: image(root, members, { Cmd: ["x"], User: "app" }), dir: join(root, "b") }),
      ).rejects.toMatchObject({ code: "STRATA_BAD_RUNTIME_CONFIG" });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(readdirSync(root)).toEqual(["image"]);
    });
  }

  it.runIf(process.geteuid?.() === 0)(
    "bundle --store with /etc/passwd a FIFO: the same error, and the mount and DIR are gone",
    async () => {
      const { bundleFromStore } = await import("@strata-oci/bundle");
      const { mountsAt } = await import("@strata-oci/store");
      const root = dir();
      const layout = image(
        root,
        [
          { name: "etc/", type: "dir" },
          { name: "etc/passwd", type: "fifo" },
        ],
        { Cmd: ["x"], User: "app" },
      );
      await expect(
        bundleFromStore({ image: layout, dir: join(root, "b"), store: join(root, "store") }),
      ).rejects.toMatchObject({ code: "STRATA_BAD_RUNTIME_CONFIG" });
      expect(readdirSync(root).sort()).toEqual(["image", "store"]);
      expect(mountsAt(join(root, "b", "rootfs"))).toEqual([]);
    },
  );
});
