// Issue #12: the overlayfs layer store. The kernel's mount of the stored
// layers must show what strata's flat unpack of the same image writes, entry
// by entry, on random stacks and on every test image; images that share base
// layers share their directories.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { unpack } from "@strata-oci/core";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";
import {
  mountImage,
  storeGc,
  storeList,
  storeRemove,
  storeUsage,
  unmountImage,
  unpackToStore,
} from "@strata-oci/store";
import {
  anyStack,
  modelOutcome,
  tempDir,
  writeStackImage,
  writeTar,
  type TarMember,
} from "@strata-oci/testing";
import { writeOciLayout } from "@strata-oci/image";
import { multiPlatformLayout, stackLayout, TRICKY } from "../../../test/support/test-images.js";
import { NOBODY, runAsNobody, strataAsNobody } from "../../../test/support/as-nobody.js";

const SAMPLE = join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci");

/** A copy of the layout of `image` (oci:DIR:TAG or a DIR) at `to`, as oci:TO:TAG. */
function cpLayout(image: string, to: string, tag: string): string {
  cpSync(image.startsWith("oci:") ? (/^oci:(.*):[^:]+$/.exec(image)?.[1] as string) : image, to, {
    recursive: true,
  });
  return `oci:${to}:${tag}`;
}
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");

const work = tempDir("strata-store-");
afterAll(() => work.remove());
let n = 0;
const root = process.geteuid?.() === 0;
const mounted: string[] = [];
afterEach(() => {
  for (const target of mounted.splice(0)) spawnSync("umount", [target]);
});

/** IMAGE mounted from `store` (filled as needed) and unpacked flat: both trees. */
async function mountAndFlat(
  image: string,
  store: string,
): Promise<{ mount: string; flat: string }> {
  const mount = join(work.path, `mount-${n++}`);
  mkdirSync(mount);
  await mountImage({ image, store, target: mount });
  mounted.push(mount);
  const flat = join(work.path, `flat-${n++}`);
  await unpack({ image, dest: flat });
  return { mount, flat };
}

/**
 * Found by the property when only whiteouts and opaque markers marked where a
 * layer may hide lower names: a layer that turns a lower directory into a
 * symlink and back into a directory must hide the directory's old children.
 */
const DIRECTORY_REPLACED_AND_BACK: TarMember[][] = [
  [{ name: "b/c/a/", type: "dir", mode: 0o744, uid: 0, gid: 0, mtime: 1e9 }],
  [
    { name: "b/c", type: "symlink", linkname: "/", mtime: 1e9 },
    { name: "b/c/", type: "dir", mode: 0o744, uid: 0, gid: 0, mtime: 1e9 },
  ],
];

/**
 * Only a random property caught a store that marked a directory opaque where
 * whiteouts were due (3 runs in 6): a layer that deletes one name and adds
 * another in a directory must not hide the rest of it.
 */
const ONE_NAME_GONE_ONE_ADDED: TarMember[][] = [
  [
    { name: "d/", type: "dir" },
    { name: "d/a", type: "file", data: "a" },
    { name: "d/b", type: "file", data: "b" },
  ],
  [
    { name: "d/.wh.a", type: "file" },
    { name: "d/c", type: "file", data: "c" },
  ],
];

/**
 * The properties' bound on their work: under load a run took longer than the
 * test's timeout and went on in the background, leaking mounts into the next
 * test. They stop drawing stacks after this long (with at least MIN_RUNS
 * stacks checked), well within their own timeout.
 */
const PROPERTY_BUDGET_MS = 60_000;
const PROPERTY_TIMEOUT_MS = 180_000;
const MIN_RUNS = 25;

describe.runIf(root)("the layer store, mounted by the kernel, equals the flat unpack", () => {
  it(
    "property: random layer stacks, kernel mount == flat unpack == model",
    async () => {
      const store = join(work.path, "store-property");
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(anyStack, async (layers) => {
          runs++;
          const model = await modelOutcome(layers);
          fc.pre(model.ok);
          const image = writeStackImage(join(work.path, `image-${n++}`), layers, "t");
          const { mount, flat } = await mountAndFlat(image, store);
          const kernel = snapshotDisk(mount);
          unmountImage({ target: mount, store });
          mounted.pop();
          expect(diffSnapshots(snapshotDisk(flat), kernel)).toEqual([]);
          expect(diffSnapshots(model.ok ? model.snapshot : new Map(), kernel)).toEqual([]);
        }),
        {
          numRuns: 150,
          examples: [[DIRECTORY_REPLACED_AND_BACK], [ONE_NAME_GONE_ONE_ADDED]],
          interruptAfterTimeLimit: PROPERTY_BUDGET_MS,
          markInterruptAsFailure: false,
        },
      );
      expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "property: a stack whose lower layers are stored already (from an image of them alone): " +
      "only the rest is written, read from the stored layers as needed; kernel mount == " +
      "flat unpack",
    async () => {
      const store = join(work.path, "store-prefix");
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(anyStack, fc.nat(), async (layers, cut) => {
          runs++;
          fc.pre(layers.length >= 2 && (await modelOutcome(layers)).ok);
          const below = 1 + (cut % (layers.length - 1));
          const base = await unpackToStore({
            image: writeStackImage(join(work.path, `image-${n++}`), layers.slice(0, below), "t"),
            store,
          }).catch(() => undefined);
          fc.pre(base !== undefined);
          const image = writeStackImage(join(work.path, `image-${n++}`), layers, "t");
          const full = await unpackToStore({ image, store });
          expect(full.reused).toBeGreaterThanOrEqual(below);
          const { mount, flat } = await mountAndFlat(image, store);
          const kernel = snapshotDisk(mount);
          unmountImage({ target: mount, store });
          mounted.pop();
          expect(diffSnapshots(snapshotDisk(flat), kernel)).toEqual([]);
        }),
        {
          numRuns: 100,
          interruptAfterTimeLimit: PROPERTY_BUDGET_MS,
          markInterruptAsFailure: false,
        },
      );
      expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "every test image: sample, the tricky stack in gzip and zstd, a docker-archive, both " +
      "platforms of an index",
    async () => {
      const store = join(work.path, "store-images");
      const images: Array<{ image: string; platform?: string }> = [
        { image: `oci:${SAMPLE}:sample` },
        { image: stackLayout(join(work.path, "tricky-gzip"), TRICKY, "gzip") },
        { image: stackLayout(join(work.path, "tricky-zstd"), TRICKY, "zstd") },
        { image: `oci:${multiPlatformLayout(work.path)}:multi`, platform: "linux/amd64" },
        { image: `oci:${join(work.path, "multi")}:multi`, platform: "linux/arm64/v8" },
      ];
      if (spawnSync("sh", ["-c", "command -v skopeo"]).status === 0) {
        const archive = join(work.path, "sample.tar");
        expect(
          spawnSync("skopeo", [
            "copy",
            "-q",
            `oci:${SAMPLE}:sample`,
            `docker-archive:${archive}:strata/sample:1`,
          ]).status,
        ).toBe(0);
        images.push({ image: `docker-archive:${archive}` });
      }
      for (const { image, platform } of images) {
        const mount = join(work.path, `mount-${n++}`);
        mkdirSync(mount);
        await mountImage({
          image,
          store,
          target: mount,
          ...(platform === undefined ? {} : { platform }),
        });
        mounted.push(mount);
        const flat = join(work.path, `flat-${n++}`);
        await unpack({ image, dest: flat, ...(platform === undefined ? {} : { platform }) });
        expect(diffSnapshots(snapshotDisk(flat), snapshotDisk(mount)), image).toEqual([]);
      }
      // The tricky stack needed an opaque directory and a copied-up hardlink.
      const tricky = storeList({ store }).filter((layer) =>
        layer.images.some((name) => name.includes("tricky-gzip")),
      );
      expect(tricky.reduce((sum, layer) => sum + layer.opaque, 0)).toBeGreaterThan(0);
      expect(tricky.reduce((sum, layer) => sum + layer.copiedUp, 0)).toBeGreaterThan(0);
    },
  );

  it(
    "two images on one base: the second extracts only its own layers, both mounts are right; " +
      "gc keeps what a kept image needs",
    async () => {
      const store = join(work.path, "store-shared");
      const base: TarMember[][] = [
        [
          { name: "etc/", type: "dir" },
          { name: "etc/os-release", type: "file", data: "base\n" },
          { name: "bin/", type: "dir" },
          { name: "bin/tool", type: "file", data: "tool v1", mode: 0o755 },
        ],
        [
          { name: "etc/motd", type: "file", data: "hello\n" },
          { name: "lib", type: "symlink", linkname: "usr/lib" },
          { name: "usr/lib/libc.so", type: "file", data: "libc" },
        ],
      ];
      const app = writeStackImage(
        join(work.path, "app"),
        [
          ...base,
          [
            { name: "app/run", type: "file", data: "app", mode: 0o755 },
            { name: "lib/libapp.so", type: "file", data: "libapp" },
          ],
        ],
        "t",
      );
      const web = writeStackImage(
        join(work.path, "web"),
        [
          ...base,
          [
            { name: "etc/.wh.motd", type: "file" },
            { name: "srv/index.html", type: "file", data: "<p>" },
          ],
          [
            { name: "bin/tool", type: "hardlink", linkname: "bin/tool" },
            { name: "bin/tool2", type: "hardlink", linkname: "bin/tool" },
          ],
        ],
        "t",
      );
      const first = await unpackToStore({ image: app, store });
      expect([first.written, first.reused]).toEqual([3, 0]);
      const second = await unpackToStore({ image: web, store });
      expect([second.written, second.reused]).toEqual([2, 2]);
      expect(second.chainIds.slice(0, 2)).toEqual(first.chainIds.slice(0, 2));
      // web's own layers: a whiteout for etc/motd, bin/tool copied up to be linked as bin/tool2.
      const own = storeList({ store }).filter((layer) =>
        second.chainIds.slice(2).includes(layer.chainId),
      );
      expect(own.map((layer) => [layer.whiteouts, layer.copiedUp]).sort()).toEqual([
        [0, 1],
        [1, 0],
      ]);
      for (const image of [app, web]) {
        const { mount, flat } = await mountAndFlat(image, store);
        expect(diffSnapshots(snapshotDisk(flat), snapshotDisk(mount)), image).toEqual([]);
      }
      for (const target of mounted.splice(0)) unmountImage({ target, store });
      expect(storeUsage({ store })).toMatchObject({ layers: 5, images: 2, unusedLayers: 0 });
      expect((await storeGc({ store })).removed).toEqual([]);
      // web no longer kept: its two layers go, app's three (the shared base among them) stay, and
      // app
      // still mounts right.
      await storeRemove({ store, image: web });
      const removed = (await storeGc({ store })).removed;
      expect([...removed].sort()).toEqual([...second.chainIds.slice(2)].sort());
      expect(
        storeList({ store })
          .map((layer) => layer.chainId)
          .sort(),
      ).toEqual([...first.chainIds].sort());
      const { mount, flat } = await mountAndFlat(app, store);
      expect(diffSnapshots(snapshotDisk(flat), snapshotDisk(mount))).toEqual([]);
    },
  );

  it(
    "a gc started while an image is being stored waits for it, then keeps the layers it " +
      "uses; a refused image is not kept",
    async () => {
      const store = join(work.path, "store-gc-race");
      const base: TarMember[][] = [
        [
          { name: "etc/", type: "dir" },
          { name: "etc/base", type: "file", data: "base" },
        ],
      ];
      const first = writeStackImage(join(work.path, "race-first"), base, "t");
      await unpackToStore({ image: first, store });
      await storeRemove({ store, image: first });
      const second = writeStackImage(
        join(work.path, "race-second"),
        [...base, [{ name: "etc/more", type: "file", data: "more" }]],
        "t",
      );
      let gc: Promise<{ removed: readonly string[] }> | undefined;
      let storedBeforeGc = false;
      const result = await unpackToStore({
        image: second,
        store,
        onLayer: (event) => {
          // The base is found stored: a gc started now must not take it away.
          if (event.index === 0) gc = storeGc({ store });
          if (event.index === 1) storedBeforeGc = true;
        },
      });
      expect(storedBeforeGc).toBe(true);
      expect((await gc)?.removed).toEqual([]);
      expect([result.written, result.reused]).toEqual([1, 1]);
      const { mount, flat } = await mountAndFlat(second, store);
      expect(diffSnapshots(snapshotDisk(flat), snapshotDisk(mount))).toEqual([]);
      const refused = writeStackImage(
        join(work.path, "race-refused"),
        [[{ name: "x", type: "hardlink", linkname: "nowhere" }]],
        "t",
      );
      await expect(unpackToStore({ image: refused, store })).rejects.toMatchObject({
        code: "STRATA_BAD_HARDLINK",
      });
      expect(readdirSync(join(store, "images"))).toHaveLength(1);
    },
  );

  // As far as this machine allows: nobody writes a rootless store (user.overlay.opaque, 0/0
  // whiteouts made unprivileged) and, in a user namespace of its own, mounts it with userxattr.
  it.runIf(
    spawnSync("sh", ["-c", "command -v unshare && command -v getfattr && command -v setpriv"])
      .status === 0,
  )(
    "a rootless store: written by nobody, mounted with userxattr in nobody's user namespace, " +
      "shows nobody's flat unpack",
    () => {
      const box = join(work.path, "rootless");
      mkdirSync(box, { recursive: true });
      chmodSync(work.path, 0o755);
      const images = [
        cpLayout(SAMPLE, join(box, "sample"), "sample"),
        cpLayout(
          stackLayout(join(work.path, "tricky-rootless"), TRICKY, "gzip"),
          join(box, "tricky"),
          "t",
        ),
      ];
      // nobody's own directory, writable by nobody else: a store may be kept under it.
      spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, box]);
      chmodSync(box, 0o755);
      const store = join(box, "store");
      for (const [i, image] of images.entries()) {
        const stored = strataAsNobody(box, ["unpack", "--store", store, image]);
        expect(stored.status, stored.stderr).toBe(0);
        const flat = strataAsNobody(box, ["unpack", image, join(box, `flat-${i}`)]);
        expect(flat.status, flat.stderr).toBe(0);
        const mount = join(box, `mount-${i}`);
        mkdirSync(mount);
        chownSync(mount, NOBODY, NOBODY);
        const lowerdir = /lowerdir=(\S+)/.exec(stored.stdout)?.[1] as string;
        // Both trees listed from inside the namespace, the same way: type, mode, owner, time, link
        // target; for
        // non-directories size and link count (a merged directory's own are overlayfs's); bytes;
        // xattrs.
        const list = (dir: string) =>
          `(cd ${dir} && find . -printf '%p %y %m %U:%G %T@ %l\\n' | sort && find . ! -type d ` +
          `-printf '%p %s %n\\n' | sort && find . -type f -exec md5sum {} + | sort -k2 && ` +
          `getfattr -R -h -d -m - . 2>/dev/null | grep -v '^$' | sort)`;
        const script =
          `cd ${store} && mount -t overlay overlay -o ` +
          `lowerdir=${lowerdir},userxattr ${mount} && ${list(mount)} > ${box}/kernel-` +
          `${i}.txt && ${list(join(box, `flat-${i}`))} > ${box}/flat-${i}.txt`;
        const ran = runAsNobody("unshare", ["-Urm", "sh", "-c", script]);
        expect(ran.status, ran.stderr).toBe(0);
        const kernel = readFileSync(join(box, `kernel-${i}.txt`), "utf8");
        expect(kernel.split("\n").length).toBeGreaterThan(10);
        expect(kernel, image).toBe(readFileSync(join(box, `flat-${i}.txt`), "utf8"));
      }
      // The opaque directory of the tricky stack is marked the unprivileged way.
      const opaque = spawnSync(
        "sh",
        ["-c", `getfattr -R -h -d -m user.overlay ${store}/layers | grep -c user.overlay.opaque`],
        { encoding: "utf8" },
      );
      expect(Number(opaque.stdout.trim())).toBeGreaterThan(0);
    },
  );

  it(
    "the image's own warnings reach a store unpack as they reach a flat one (another " +
      "platform than the host's)",
    async () => {
      const layout = join(work.path, "other-arch");
      writeOciLayout(layout, {
        layers: [{ tar: writeTar([{ name: "a", type: "file", data: "a" }]) }],
        architecture: "s390x",
        tag: "t",
      });
      const flat = await unpack({
        image: `oci:${layout}:t`,
        dest: join(work.path, "other-arch-flat"),
      });
      const stored = await unpackToStore({
        image: `oci:${layout}:t`,
        store: join(work.path, "store-other-arch"),
      });
      expect(flat.warnings.map((w) => w.kind)).toEqual(["platform-mismatch"]);
      expect(stored.warnings).toEqual(flat.warnings);
    },
  );

  it(
    "concurrent unpacks of one image into one store: each layer stored once, no staging " +
      "left, the mount right",
    async () => {
      const store = join(work.path, "store-concurrent");
      const image = stackLayout(join(work.path, "tricky-concurrent"), TRICKY, "gzip");
      const results = await Promise.all([1, 2, 3].map(() => unpackToStore({ image, store })));
      // Every layer was stored by exactly one of them (each may have written it; one rename won).
      expect(results.reduce((sum, r) => sum + r.written, 0)).toBe(TRICKY.length);
      expect(readdirSync(join(store, "layers"))).toHaveLength(TRICKY.length);
      expect(readdirSync(join(store, "staging"))).toEqual([]);
      expect(readdirSync(join(store, "l"))).toHaveLength(TRICKY.length);
      const { mount, flat } = await mountAndFlat(image, store);
      expect(diffSnapshots(snapshotDisk(flat), snapshotDisk(mount))).toEqual([]);
    },
  );

  it(
    "the CLI: unpack --store prints the mount options, mount --writable keeps changes in its " +
      "own upper, umount removes them, store ls/du/rm/gc",
    () => {
      const store = join(work.path, "store-cli");
      const image = `oci:${SAMPLE}:sample`;
      const strata = (...args: string[]) =>
        spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
      const unpacked = strata("unpack", "--store", store, image);
      expect(unpacked.status, unpacked.stderr).toBe(0);
      expect(unpacked.stdout).toContain("3 layers extracted, 0 already there");
      expect(unpacked.stdout).toMatch(
        /mount -t overlay overlay -o lowerdir=l\/[^:]+:l\/[^:]+:l\/\S+ TARGET/,
      );
      const mount = join(work.path, "cli-mount");
      mkdirSync(mount);
      const mounted = strata("mount", "--store", store, "--writable", image, mount);
      expect(mounted.status, mounted.stderr).toBe(0);
      writeFileSync(join(mount, "etc", "written-here"), "x");
      const uppers = readdirSync(join(store, "mounts")).filter((name) => !name.endsWith(".json"));
      expect(uppers).toHaveLength(1);
      expect(
        existsSync(join(store, "mounts", uppers[0] as string, "upper", "etc", "written-here")),
      ).toBe(true);
      expect(strata("umount", "--store", store, mount).status).toBe(0);
      expect(readdirSync(join(store, "mounts"))).toEqual([]);
      expect(existsSync(join(mount, "etc"))).toBe(false);
      const listed = strata("store", "--store", store, "ls", "--json");
      // Bottom layer first: each one's parent listed before it.
      const { layers } = JSON.parse(listed.stdout) as {
        layers: Array<{ chainId: string; parent?: string }>;
      };
      expect(layers.map((layer) => layer.parent)).toEqual([
        undefined,
        layers[0]?.chainId,
        layers[1]?.chainId,
      ]);
      expect(strata("store", "--store", store, "du").stdout).toContain("3 layers");
      expect(strata("store", "--store", store, "rm", image).status).toBe(0);
      expect(strata("store", "--store", store, "gc").stdout).toContain("removed 3 layers");
      // A mount point that is not there: a typed error, not a stack trace.
      for (const args of [
        ["mount", "--store", store, image, join(work.path, "no-such-dir")],
        ["umount", "--store", store, join(work.path, "no-such-dir")],
      ]) {
        const refused = strata(...args);
        expect(refused.status, refused.stderr).toBe(1);
        expect(refused.stderr).toContain("code: STRATA_BAD_DESTINATION");
      }
      // A store that is a file, and one whose settings are damaged: typed errors.
      writeFileSync(join(work.path, "store-is-a-file"), "x");
      const file = strata("unpack", "--store", join(work.path, "store-is-a-file"), image);
      expect(file.status, file.stderr).toBe(1);
      expect(file.stderr).toContain("code: STRATA_BAD_DESTINATION");
      mkdirSync(join(work.path, "store-damaged"));
      writeFileSync(join(work.path, "store-damaged", "store.json"), "{bad");
      for (const args of [
        ["store", "--store", join(work.path, "store-damaged"), "ls"],
        ["unpack", "--store", join(work.path, "store-damaged"), image],
      ]) {
        const damaged = strata(...args);
        expect(damaged.status, damaged.stderr).toBe(1);
        expect(damaged.stderr).toContain("code: STRATA_STORE_DAMAGED");
      }
      const missing = strata("store", "--store", join(work.path, "no-store"), "ls");
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain("STRATA_PATH_NOT_FOUND");
    },
  );
});
