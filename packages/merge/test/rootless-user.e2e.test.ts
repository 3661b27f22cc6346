import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readLayer, writeTar, type TarMember } from "@strata-oci/layer";
import { writeOciLayout } from "@strata-oci/image";
import { diffSnapshots, ReferenceModel, snapshotDisk, snapshotModel } from "@strata-oci/testing";
import { memoryLayer, tempDir } from "../../../test/support/layers.js";
import {
  canRunAsNobody,
  NOBODY,
  strataAsNobody,
  strataAsNobodyAsync,
} from "../../../test/support/as-nobody.js";

if (!canRunAsNobody)
  console.warn("unprivileged-user test skipped: needs root to run strata as another user");

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

describe.skipIf(!canRunAsNobody)("unpacking as an unprivileged user", () => {
  it(
    "writes into read-only directories, records owners, and matches the " + "rootless model",
    async () => {
      const dir = join(work.path, "box");
      mkdirSync(dir);
      chownSync(dir, NOBODY, NOBODY);
      chmodSync(work.path, 0o755);
      const layout = join(dir, "image");
      writeOciLayout(layout, {
        layers: layers.map((members) => ({ tar: writeTar(members) })),
        tag: "t",
      });
      spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, layout]);
      const dest = join(dir, "rootfs");
      const result = strataAsNobody(work.path, ["unpack", `oci:${layout}:t`, dest]);
      expect({ status: result.status, stderr: result.stderr }).toEqual({
        status: 0,
        stderr: expect.stringContaining("device-replaced"),
      });
      const model = new ReferenceModel({ privileged: false, uid: NOBODY, gid: NOBODY });
      for (const members of layers)
        await model.applyLayer(readLayer(memoryLayer(writeTar(members))));
      expect(diffSnapshots(snapshotModel(model), snapshotDisk(dest))).toEqual([]);
      expect(snapshotDisk(dest).get("ro")?.mode).toBe(0o555);
    },
  );

  // The losers of a race for one DEST used to leave their staging
  // directories behind, with 0555/0500 directories inside that their owner
  // could not remove without chmod (issue #9, class 7).
  it(
    "three unpacks into one DEST at once: one DEST equal to the model, no staging " +
      "directory left",
    async () => {
      const dir = join(work.path, "race");
      mkdirSync(dir);
      chownSync(dir, NOBODY, NOBODY);
      chmodSync(work.path, 0o755);
      const many: TarMember[] = [
        ...(layers[0] as TarMember[]),
        ...Array.from({ length: 3000 }, (_, i): TarMember => ({
          name: `ro/sub/many${i}`,
          type: "file",
          data: "m",
          mode: 0o444,
          mtime: 1000,
        })),
      ];
      const raceLayers = [many, layers[1] as TarMember[]];
      const layout = join(dir, "image");
      writeOciLayout(layout, {
        layers: raceLayers.map((members) => ({ tar: writeTar(members) })),
        tag: "t",
      });
      spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, layout]);
      const dest = join(dir, "rootfs");
      const runs = await Promise.all(
        [0, 1, 2].map(() =>
          strataAsNobodyAsync(work.path, ["unpack", "--quiet", `oci:${layout}:t`, dest]),
        ),
      );
      // Each run either wins or fails with a typed error (DEST taken), never a crash.
      for (const run of runs) {
        if (run.status !== 0) expect(run.stderr).toMatch(/code: STRATA_[A-Z_]+/);
        expect(run.stderr).not.toContain("internal error");
      }
      expect(runs.filter((run) => run.status === 0).length).toBeGreaterThanOrEqual(1);
      expect(readdirSync(dir).sort()).toEqual(["image", "rootfs"]);
      const model = new ReferenceModel({ privileged: false, uid: NOBODY, gid: NOBODY });
      for (const members of raceLayers)
        await model.applyLayer(readLayer(memoryLayer(writeTar(members))));
      expect(diffSnapshots(snapshotModel(model), snapshotDisk(dest))).toEqual([]);
    },
  );
});
