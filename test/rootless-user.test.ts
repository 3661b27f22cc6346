import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readLayer, writeTar, type TarMember } from "@strata/layer";
import { writeOciLayout } from "@strata/image";
import { diffSnapshots, ReferenceModel, snapshotDisk, snapshotModel } from "@strata/overlay";
import { memoryLayer, tempDir } from "./support/layers.js";

const MAIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "main.js");
const OVERLAY = join(import.meta.dirname, "..", "packages", "overlay", "dist", "index.js");
const LAYER = join(import.meta.dirname, "..", "packages", "layer", "dist", "index.js");
const NOBODY = 65534;
const canSwitch = process.getuid?.() === 0;
if (!canSwitch) console.warn("unprivileged-user test skipped: needs root to run strata as another user");

// Runs the CLI as nobody. Modules, the lazily loaded addon and the blob
// workers are loaded while still root, then privileges are dropped: the
// checkout may sit in a directory nobody cannot enter (a CI clone under a
// 0700 mktemp dir).
const WRAPPER = `
const [mainJs, overlayJs, layerJs, ...args] = process.argv.slice(2);
const { main } = await import(mainJs);
(await import(overlayJs)).native();
await (await import(layerJs)).prepareBlobWorkers();
process.setgroups([]);
process.setgid(${NOBODY});
process.setuid(${NOBODY});
process.exitCode = await main(args);
`;

const work = tempDir("strata-rootless-");
afterAll(() => work.remove());

// Directories an image ships read-only (0555, 0500) still receive their
// children when an unprivileged user unpacks, and end with their own modes.
const layers: TarMember[][] = [
  [
    { name: "ro/", type: "dir", mode: 0o555, mtime: 1000 },
    { name: "ro/f", type: "file", data: "f", mtime: 1000 },
    { name: "ro/sub/", type: "dir", mode: 0o500, mtime: 1000 },
    { name: "ro/sub/x", type: "file", data: "x", mode: 0o400, mtime: 1000 },
    { name: "owned", type: "file", data: "o", uid: 1000, gid: 1000, mtime: 1000 },
    { name: "null", type: "char", devMajor: 1, devMinor: 3, mode: 0o666, mtime: 1000 },
  ],
  [
    { name: "ro/.wh.f", type: "file" },
    { name: "ro/g", type: "file", data: "g", mtime: 2000 },
    { name: "ro/sub/y", type: "file", data: "y", mtime: 2000 },
  ],
];

describe.skipIf(!canSwitch)("unpacking as an unprivileged user", () => {
  it("writes into read-only directories, records owners, and matches the rootless model", async () => {
    const dir = join(work.path, "box");
    mkdirSync(dir);
    chownSync(dir, NOBODY, NOBODY);
    chmodSync(work.path, 0o755);
    const layout = join(dir, "image");
    writeOciLayout(layout, { layers: layers.map((members) => ({ tar: writeTar(members) })), tag: "t" });
    spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, layout]);
    const dest = join(dir, "rootfs");
    const wrapper = join(work.path, "as-nobody.mjs");
    writeFileSync(wrapper, WRAPPER);
    const result = spawnSync(process.execPath, [wrapper, MAIN, OVERLAY, LAYER, "unpack", `oci:${layout}:t`, dest], { encoding: "utf8" });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: expect.stringContaining("device-replaced") });
    const model = new ReferenceModel({ privileged: false, uid: NOBODY, gid: NOBODY });
    for (const members of layers) await model.applyLayer(readLayer(memoryLayer(writeTar(members))));
    expect(diffSnapshots(snapshotModel(model), snapshotDisk(dest))).toEqual([]);
    expect(snapshotDisk(dest).get("ro")?.mode).toBe(0o555);
  });
});
