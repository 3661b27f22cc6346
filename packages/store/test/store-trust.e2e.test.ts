// Issue #26.1, .2, .6, .12: the layer store's own files are records to
// check, not instructions. Tampered records, planted stores, foreign mounts,
// racing gc, and entries overlayfs would read as something else: each ends
// in a typed error or a contained result, with nothing outside the store
// read, written or removed.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { unpack } from "@strata-oci/core";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";
import { writeOciLayout } from "@strata-oci/image";
import {
  LayerStore,
  mountImage,
  mountsAt,
  storeGc,
  storeList,
  storeRemove,
  unmountImage,
  unpackToStore,
} from "@strata-oci/store";
import { tempDir, writeStackImage, writeTar, type TarMember } from "@strata-oci/testing";
import { strataAsNobody } from "../../../test/support/as-nobody.js";

const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");
const root = process.geteuid?.() === 0;
const work = tempDir("strata-store-trust-");
afterAll(() => work.remove());
let n = 0;
const fresh = (name: string): string => join(work.path, `${name}-${n++}`);
const mounted: string[] = [];
afterEach(() => {
  for (const target of mounted.splice(0).reverse()) spawnSync("umount", [target]);
});

function strata(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A typed refusal: exit 1 with the code, never an internal error. */
function expectRefused(run: { status: number | null; stderr: string }, code: string): void {
  expect(run.stderr).not.toContain("internal error");
  expect(run.stderr).toContain(`code: ${code}`);
  expect(run.status).toBe(1);
}

const BASE: TarMember[][] = [
  [
    { name: "etc/", type: "dir" },
    { name: "etc/os-release", type: "file", data: "base\n" },
  ],
  [
    { name: "etc/motd", type: "file", data: "hello\n" },
    { name: "bin/tool", type: "file", data: "tool", mode: 0o755 },
  ],
];

/** A store holding BASE, and the image's reference. */
async function storedBase(): Promise<{
  store: string;
  image: string;
  chainIds: readonly string[];
}> {
  const store = fresh("store");
  const image = writeStackImage(fresh("image"), BASE, "t");
  const { chainIds } = await unpackToStore({ image, store });
  return { store, image, chainIds };
}

/** A directory outside every store whose content must survive. */
function victim(): { dir: string; intact: () => boolean } {
  const dir = fresh("victim");
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "precious"), "keep me");
  return { dir, intact: () => existsSync(join(dir, "precious")) && existsSync(join(dir, "sub")) };
}

/** IMAGE mounted from `store` shows what its flat unpack writes, entry by entry. */
async function expectMountIsFlat(image: string, store: string): Promise<void> {
  const target = fresh("mnt");
  mkdirSync(target);
  await mountImage({ image, store, target });
  mounted.push(target);
  const flat = fresh("flat");
  await unpack({ image, dest: flat });
  expect(diffSnapshots(snapshotDisk(flat), snapshotDisk(target))).toEqual([]);
}

const layerJson = (store: string, chainId: string): string =>
  join(store, "layers", chainId.slice(7), "layer.json");

describe("the store's records are checked, never obeyed", () => {
  it(
    "a layer.json whose link climbs out: mount and gc refuse it typed, the host directory is " +
      "neither shown nor removed",
    async () => {
      const { store, image, chainIds } = await storedBase();
      const outside = victim();
      const file = layerJson(store, chainIds[0] as string);
      const record = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      writeFileSync(
        file,
        JSON.stringify({ ...record, link: `../../../../../../..${outside.dir}` }),
      );
      await storeRemove({ store, image });
      expectRefused(strata("store", "--store", store, "gc"), "STRATA_STORE_DAMAGED");
      expectRefused(strata("store", "--store", store, "ls"), "STRATA_STORE_DAMAGED");
      const target = fresh("mnt");
      mkdirSync(target);
      expectRefused(strata("mount", "--store", store, image, target), "STRATA_STORE_DAMAGED");
      expect(mountsAt(target)).toEqual([]);
      expect(outside.intact()).toBe(true);
    },
  );

  it(
    "a short link swapped for a symlink to a host directory: refused where it would be " +
      "mounted or removed",
    async () => {
      const { store, image, chainIds } = await storedBase();
      const outside = victim();
      const record = JSON.parse(readFileSync(layerJson(store, chainIds[1] as string), "utf8")) as {
        link: string;
      };
      rmSync(join(store, "l", record.link));
      symlinkSync(outside.dir, join(store, "l", record.link));
      const target = fresh("mnt");
      mkdirSync(target);
      expectRefused(strata("mount", "--store", store, image, target), "STRATA_STORE_DAMAGED");
      await storeRemove({ store, image });
      expectRefused(strata("store", "--store", store, "gc"), "STRATA_STORE_DAMAGED");
      expect(outside.intact()).toBe(true);
      expect(readlinkSync(join(store, "l", record.link))).toBe(outside.dir);
    },
  );

  it(
    "a layer.json that names another layer, a record that is a symlink to a host file, a " +
      "record that is a FIFO: damaged, none of them followed or read",
    async () => {
      for (const damage of ["other-chain", "symlink", "fifo"] as const) {
        const { store, image, chainIds } = await storedBase();
        const file = layerJson(store, chainIds[1] as string);
        if (damage === "other-chain")
          writeFileSync(file, readFileSync(layerJson(store, chainIds[0] as string)));
        else rmSync(file);
        if (damage === "symlink") symlinkSync("/etc/passwd", file);
        if (damage === "fifo") spawnSync("mkfifo", [file]);
        const run = strata("unpack", "--store", store, image);
        expectRefused(run, "STRATA_STORE_DAMAGED");
        expect(run.stderr, damage).not.toContain("root:x:0:0");
      }
    },
  );

  it(
    "truncated layer.json, images/*.json and mounts/*.json: STRATA_STORE_DAMAGED from every " +
      "command that reads them, not a SyntaxError",
    async () => {
      for (const which of ["layer", "image", "mount"] as const) {
        const { store, image, chainIds } = await storedBase();
        let file = layerJson(store, chainIds[0] as string);
        if (which === "image")
          file = join(store, "images", readdirSync(join(store, "images"))[0] as string);
        if (which === "mount") {
          file = join(store, "mounts", "AAAAAAAAAAAA.json");
          writeFileSync(
            file,
            JSON.stringify({
              id: "AAAAAAAAAAAA",
              target: "/nowhere",
              reference: "x",
              writable: false,
              chainIds: [],
            }),
          );
        }
        writeFileSync(file, readFileSync(file, "utf8").slice(0, 20));
        for (const args of [
          ["store", "--store", store, "gc"],
          ["store", "--store", store, which === "mount" ? "gc" : "ls"],
        ])
          expectRefused(strata(...args), "STRATA_STORE_DAMAGED");
        if (which !== "mount")
          expectRefused(strata("unpack", "--store", store, image), "STRATA_STORE_DAMAGED");
      }
    },
  );

  it(
    "an image record kept under another image's name is damaged (names come from the " +
      "reference, not from the file)",
    async () => {
      const { store } = await storedBase();
      const [name] = readdirSync(join(store, "images"));
      const record = JSON.parse(
        readFileSync(join(store, "images", name as string), "utf8"),
      ) as Record<string, unknown>;
      writeFileSync(
        join(store, "images", name as string),
        JSON.stringify({ ...record, reference: "oci:/somewhere/else:t" }),
      );
      expectRefused(strata("store", "--store", store, "ls"), "STRATA_STORE_DAMAGED");
    },
  );

  it.runIf(root)(
    "a mount record whose id climbs out: umount and gc remove nothing outside the store (ids " +
      "come from file names)",
    async () => {
      const { store, image } = await storedBase();
      const outside = victim();
      const target = fresh("mnt");
      mkdirSync(target);
      const mount = await mountImage({ image, store, target, writable: true });
      mounted.push(target);
      const [file] = readdirSync(join(store, "mounts")).filter((name) => name.endsWith(".json"));
      const record = JSON.parse(
        readFileSync(join(store, "mounts", file as string), "utf8"),
      ) as Record<string, unknown>;
      writeFileSync(
        join(store, "mounts", file as string),
        JSON.stringify({ ...record, id: `../../../../../../..${outside.dir}` }),
      );
      expect(storeList({ store }).length).toBe(2);
      const result = unmountImage({ target });
      mounted.pop();
      expect(result.removed).toBe(join(store, "mounts", (file as string).slice(0, -5)));
      expect(mount.upper?.startsWith(join(store, "mounts"))).toBe(true);
      expect(outside.intact()).toBe(true);
      expect(readdirSync(join(store, "mounts"))).toEqual([]);
    },
  );

  it.runIf(root)(
    "a store made beforehand by another user (nobody, 0755) with a layer planted under the " +
      "image's chain ID is refused, not mounted",
    async () => {
      const { store: genuine, image, chainIds } = await storedBase();
      const planted = fresh("planted");
      spawnSync("cp", ["-a", genuine, planted]);
      writeFileSync(
        join(planted, "layers", (chainIds[1] as string).slice(7), "diff", "etc", "motd"),
        "planted by nobody\n",
      );
      spawnSync("chown", ["-R", "65534:65534", planted]);
      chmodSync(planted, 0o755);
      const target = fresh("mnt");
      mkdirSync(target);
      expectRefused(strata("mount", "--store", planted, image, target), "STRATA_STORE_UNTRUSTED");
      expectRefused(strata("unpack", "--store", planted, image), "STRATA_STORE_UNTRUSTED");
      expectRefused(strata("store", "--store", planted, "gc"), "STRATA_STORE_UNTRUSTED");
      expect(mountsAt(target)).toEqual([]);
      // Owned by this user but under a directory anyone may change: the same.
      const open = fresh("open");
      mkdirSync(open);
      chmodSync(open, 0o777);
      expectRefused(
        strata("unpack", "--store", join(open, "store"), image),
        "STRATA_STORE_UNTRUSTED",
      );
      // Writable by others itself.
      chmodSync(genuine, 0o777);
      expectRefused(strata("store", "--store", genuine, "ls"), "STRATA_STORE_UNTRUSTED");
    },
  );

  it.runIf(root)(
    "umount refuses a mount strata did not make (a tmpfs), with or without a --store that " +
      "does not exist; it stays mounted",
    () => {
      const target = fresh("tmpfs");
      mkdirSync(target);
      expect(spawnSync("mount", ["-t", "tmpfs", "tmpfs", target]).status).toBe(0);
      mounted.push(target);
      writeFileSync(join(target, "user-data"), "x");
      expectRefused(strata("umount", target), "STRATA_BAD_DESTINATION");
      expectRefused(
        strata("umount", "--store", fresh("no-store"), target),
        "STRATA_BAD_DESTINATION",
      );
      expect(mountsAt(target).at(-1)?.fstype).toBe("tmpfs");
      expect(existsSync(join(target, "user-data"))).toBe(true);
      // Nor a directory that is no mount at all.
      const plain = fresh("plain");
      mkdirSync(plain);
      expectRefused(strata("umount", plain), "STRATA_BAD_DESTINATION");
    },
  );
});

describe.runIf(root)("mounts and gc", () => {
  it(
    "umount without --store finds the store from the mount: a writable mount's upper, work " +
      "and record go, and gc then frees the layers of an image no longer kept",
    async () => {
      const { store, image } = await storedBase();
      const target = fresh("mnt");
      mkdirSync(target);
      expect(strata("mount", "--store", store, "--writable", image, target).status).toBe(0);
      mounted.push(target);
      writeFileSync(join(target, "etc", "changed"), "x");
      expect(readdirSync(join(store, "mounts")).length).toBe(2);
      await storeRemove({ store, image });
      // The mount's record keeps its layers while it is mounted.
      expect((await storeGc({ store })).removed).toEqual([]);
      expect(readFileSync(join(target, "etc", "motd"), "utf8")).toBe("hello\n");
      const run = strata("umount", target);
      expect(run.status, run.stderr).toBe(0);
      mounted.pop();
      expect(readdirSync(join(store, "mounts"))).toEqual([]);
      expect((await storeGc({ store })).removed).toHaveLength(2);
    },
  );

  it(
    "a mount names its store and record in its source and never follows redirects " +
      "(redirect_dir=nofollow)",
    async () => {
      const { store, image } = await storedBase();
      const target = fresh("mnt");
      mkdirSync(target);
      await mountImage({ image, store, target });
      mounted.push(target);
      const line = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .find((l) => l.split(" ")[4] === target) as string;
      expect(line).toMatch(/ - overlay strata:[A-Za-z0-9_-]{12}:\S+ \S*redirect_dir=nofollow/);
      // A read-only mount's record goes with gc once it is no longer mounted (a reboot).
      spawnSync("umount", [target]);
      mounted.pop();
      await storeRemove({ store, image });
      expect((await storeGc({ store })).removed).toHaveLength(2);
      expect(readdirSync(join(store, "mounts"))).toEqual([]);
    },
  );

  it(
    "two platforms of one tag are kept apart: rm --platform drops one, gc keeps the other's " +
      "layers, and both mount as their flat unpack",
    async () => {
      const layout = fresh("multi");
      const arm = fresh("multi-arm");
      writeOciLayout(layout, {
        layers: [{ tar: writeTar([{ name: "which", type: "file", data: "amd64" }]) }],
        architecture: "amd64",
      });
      writeOciLayout(arm, {
        layers: [{ tar: writeTar([{ name: "which", type: "file", data: "arm v7" }]) }],
        architecture: "arm",
        configOverrides: { variant: "v7" },
      });
      const index = join(layout, "index.json");
      const manifests = [index, join(arm, "index.json")].map(
        (f) =>
          (JSON.parse(readFileSync(f, "utf8")) as { manifests: Array<Record<string, unknown>> })
            .manifests[0],
      );
      spawnSync("cp", ["-a", `${arm}/blobs/.`, `${layout}/blobs/`]);
      writeFileSync(
        index,
        JSON.stringify({
          schemaVersion: 2,
          manifests: [
            {
              ...manifests[0],
              platform: { os: "linux", architecture: "amd64" },
              annotations: { "org.opencontainers.image.ref.name": "t" },
            },
            {
              ...manifests[1],
              platform: { os: "linux", architecture: "arm", variant: "v7" },
              annotations: { "org.opencontainers.image.ref.name": "t" },
            },
          ],
        }),
      );
      const store = fresh("store");
      const image = `oci:${layout}:t`;
      await unpackToStore({ image, store, platform: "linux/amd64" });
      await unpackToStore({ image, store, platform: "linux/arm/v7" });
      expect(
        storeList({ store })
          .flatMap((l) => l.images)
          .sort(),
      ).toEqual([`oci:${layout}:t (linux/amd64)`, `oci:${layout}:t (linux/arm/v7)`]);
      const removed = await storeRemove({ store, image, platform: "linux/arm/v7" });
      expect(removed.removed.map((r) => r.platform)).toEqual(["linux/arm/v7"]);
      expect((await storeGc({ store })).removed).toHaveLength(1);
      const target = fresh("mnt");
      mkdirSync(target);
      await mountImage({ image, store, target, platform: "linux/amd64" });
      mounted.push(target);
      expect(readFileSync(join(target, "which"), "utf8")).toBe("amd64");
      // Without --platform, rm stops keeping every platform of the reference.
      await unpackToStore({ image, store, platform: "linux/arm/v7" });
      expect((await storeRemove({ store, image })).removed).toHaveLength(2);
    },
  );

  it(
    "an image without layers mounts as an empty root (0755, mtime 0), as its flat " + "unpack is",
    async () => {
      const layout = fresh("empty");
      writeOciLayout(layout, { layers: [], tag: "t" });
      await expectMountIsFlat(`oci:${layout}:t`, fresh("store"));
    },
  );

  it(
    "a mount that the kernel refuses is STRATA_MOUNT_FAILED, and leaves no record (a " +
      "rootless store mounted by nobody outside a user namespace)",
    () => {
      const box = fresh("nobody");
      mkdirSync(box);
      const image = writeStackImage(join(box, "image"), BASE, "t");
      const target = join(box, "mnt");
      mkdirSync(target);
      spawnSync("chown", ["-R", "65534:65534", box]);
      chmodSync(work.path, 0o755);
      const store = join(box, "store");
      const run = strataAsNobody(box, ["mount", "--store", store, image, target]);
      expectRefused(run, "STRATA_MOUNT_FAILED");
      expect(readdirSync(join(store, "mounts"))).toEqual([]);
      // And root on nobody's (rootless) store: a mismatch of modes before anything else.
      chownSync(box, 0, 0);
      expectRefused(strata("unpack", "--store", store, image), "STRATA_STORE_UNTRUSTED");
    },
  );
});

describe.runIf(root)("entries overlayfs would read as something else (#26.2)", () => {
  it(
    "a character device 0:0 (a whiteout to overlayfs) is refused by the store, created by " +
      "the flat unpack, an empty file rootless in both",
    async () => {
      const image = writeStackImage(
        fresh("chardev"),
        [
          [
            { name: "dev/", type: "dir" },
            { name: "dev/zero0", type: "char", devMajor: 0, devMinor: 0 },
            { name: "etc/", type: "dir" },
          ],
          [{ name: "etc/x", type: "file", data: "x" }],
        ],
        "t",
      );
      await expect(unpackToStore({ image, store: fresh("store") })).rejects.toMatchObject({
        code: "STRATA_UNREPRESENTABLE",
      });
      const refused = strata("unpack", "--store", fresh("store"), image);
      expectRefused(refused, "STRATA_UNREPRESENTABLE");
      expect(refused.stderr).toContain("dev/zero0");
      const flat = fresh("flat");
      await unpack({ image, dest: flat });
      expect(snapshotDisk(flat).get("dev/zero0")?.kind).toBe("char");
      const rootlessStore = fresh("store");
      await unpackToStore({ image, store: rootlessStore, rootless: true });
      const rootlessFlat = fresh("flat");
      await unpack({ image, dest: rootlessFlat, rootless: true });
      expect(snapshotDisk(rootlessFlat).get("dev/zero0")?.kind).toBe("file");
    },
  );

  it(
    "an image's overlay xattrs are dropped with a warning of their own, which unpack --store " +
      "and mount print",
    async () => {
      const image = writeStackImage(
        fresh("xattrs"),
        [
          [
            { name: "etc/", type: "dir", xattrs: { "trusted.overlay.opaque": "y" } },
            {
              name: "etc/a",
              type: "file",
              data: "a",
              xattrs: { "trusted.overlay.redirect": "/x" },
            },
          ],
        ],
        "t",
      );
      const stored = await unpackToStore({ image, store: fresh("store") });
      expect(stored.warnings.map((w) => w.kind)).toEqual([
        "overlay-xattr-dropped",
        "overlay-xattr-dropped",
      ]);
      const store = fresh("store");
      const target = fresh("mnt");
      mkdirSync(target);
      const run = strata("mount", "--store", store, image, target);
      mounted.push(target);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toContain("2 × overlay-xattr-dropped");
      expect(run.stderr).not.toContain("rootless or filesystem limits");
    },
  );

  it(
    "an image's own opaque mark is not obeyed: the lower layer's files stay visible in the " +
      "mount, as in the flat unpack",
    async () => {
      const image = writeStackImage(
        fresh("own-opaque"),
        [
          [
            { name: "d/", type: "dir" },
            { name: "d/lower", type: "file", data: "l" },
          ],
          [
            { name: "d/", type: "dir", xattrs: { "trusted.overlay.opaque": "y" } },
            { name: "d/upper", type: "file", data: "u" },
          ],
        ],
        "t",
      );
      const target = fresh("mnt");
      mkdirSync(target);
      await mountImage({ image, store: fresh("store"), target });
      mounted.push(target);
      expect(readdirSync(join(target, "d")).sort()).toEqual(["lower", "upper"]);
    },
  );
});

describe.runIf(root)("concurrency (#26.6)", () => {
  it(
    "a gc started while an image is being stored waits until it is stored (the store's " +
      "lock), then keeps what it uses",
    async () => {
      const { store, image: base } = await storedBase();
      await storeRemove({ store, image: base });
      const big: TarMember[] = Array.from({ length: 20000 }, (_, i) => ({
        name: `big/f${i}`,
        type: "file",
        data: "x",
      }));
      const image = writeStackImage(fresh("big"), [...BASE, big], "t");
      const stamp = fresh("gc-done");
      let gc: Promise<number | null> | undefined;
      await unpackToStore({
        image,
        store,
        onLayer: (event) => {
          if (event.index !== 0) return;
          // Another process: it reads the store while this one writes the big layer.
          const child = spawn(
            "sh",
            [
              "-c",
              `"$0" "$1" store --store "$2" gc >/dev/null && date +%s%N > "$3"`,
              process.execPath,
              BIN,
              store,
              stamp,
            ],
            { stdio: "ignore" },
          );
          gc = new Promise((resolve) => child.on("close", resolve));
        },
      });
      const storedAt = BigInt(Date.now()) * 1_000_000n;
      expect(await gc).toBe(0);
      expect(BigInt(readFileSync(stamp, "utf8").trim())).toBeGreaterThanOrEqual(
        storedAt - 50_000_000n,
      );
      const target = fresh("mnt");
      mkdirSync(target);
      await mountImage({ image, store, target });
      mounted.push(target);
      expect(readFileSync(join(target, "etc", "motd"), "utf8")).toBe("hello\n");
    },
  );

  it(
    "unpack --store of two images sharing a base while store rm and gc loop: every run ends " +
      "typed, and every kept image then mounts as its flat unpack",
    async () => {
      const store = fresh("store");
      const images = [
        writeStackImage(fresh("app"), [...BASE, [{ name: "app", type: "file", data: "app" }]], "t"),
        writeStackImage(
          fresh("web"),
          [
            ...BASE,
            [
              { name: "web", type: "file", data: "web" },
              { name: "etc/.wh.motd", type: "file" },
            ],
          ],
          "t",
        ),
      ];
      const run = (args: string[]): Promise<{ status: number | null; stderr: string }> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, [BIN, ...args], {
            stdio: ["ignore", "ignore", "pipe"],
          });
          let stderr = "";
          child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
          child.on("close", (status) => resolve({ status, stderr }));
        });
      const results: Array<{ status: number | null; stderr: string }> = [];
      const unpacks = (async () => {
        for (let i = 0; i < 16; i++)
          results.push(await run(["unpack", "--quiet", "--store", store, images[i % 2] as string]));
      })();
      const cleaners = (async () => {
        for (let i = 0; i < 16; i++) {
          results.push(await run(["store", "--store", store, "rm", images[i % 2] as string]));
          results.push(await run(["store", "--store", store, "gc"]));
        }
      })();
      await Promise.all([unpacks, cleaners]);
      for (const result of results) {
        expect(result.stderr).not.toContain("internal error");
        // rm of an image not kept at that moment is the one refusal expected.
        if (result.status !== 0) expect(result.stderr).toContain("code: STRATA_PATH_NOT_FOUND");
      }
      // Every image still kept has every layer it needs.
      const opened = LayerStore.open(store);
      for (const kept of opened.images())
        for (const chainId of kept.chainIds)
          expect(opened.layer(chainId), `${kept.reference}: ${chainId}`).toBeDefined();
      for (const image of images) await unpackToStore({ image, store });
      for (const image of images) await expectMountIsFlat(image, store);
    },
  );
});
