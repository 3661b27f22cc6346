// Codes that no test reached (issue #26's mutation check: a code thrown as a
// raw error would go unnoticed): each one reached here through the command,
// typed, with its hint, never an internal error.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "@strata-oci/testing";
import { strataAsNobody } from "../../../test/support/as-nobody.js";

const BIN = join(import.meta.dirname, "..", "bin", "strata.js");
const SAMPLE = join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci");
const root = process.geteuid?.() === 0;
const work = tempDir("strata-codes-");
afterAll(() => work.remove());

function expectCode(run: { status: number | null; stderr: string }, code: string): void {
  expect(run.stderr).not.toContain("internal error");
  expect(run.stderr).toContain(`code: ${code}`);
  expect(run.stderr).toContain("hint: ");
  expect(run.status).toBe(1);
}

describe("every code reached", () => {
  it("STRATA_RESOURCE_LIMIT: too few file descriptors (ulimit -n 20)", () => {
    const run = spawnSync(
      "bash",
      [
        "-c",
        `ulimit -n 20; exec "$0" "$1" unpack "$2" "$3"`,
        process.execPath,
        BIN,
        `oci:${SAMPLE}:sample`,
        join(work.path, "fds"),
      ],
      { encoding: "utf8" },
    );
    expectCode(run, "STRATA_RESOURCE_LIMIT");
  });

  it.runIf(root)("STRATA_IMAGE_UNREADABLE: an image file its user may not read", () => {
    const box = join(work.path, "unreadable");
    mkdirSync(box);
    chmodSync(work.path, 0o755);
    cpSync(SAMPLE, join(box, "image"), { recursive: true });
    chmodSync(join(box, "image", "index.json"), 0o600);
    spawnSync("chown", ["65534", box]);
    expectCode(
      strataAsNobody(box, ["unpack", `oci:${join(box, "image")}:sample`, join(box, "rootfs")]),
      "STRATA_IMAGE_UNREADABLE",
    );
  });

  it.runIf(root)(
    "STRATA_FS_ERROR: export's tar cannot be written where it was asked for (a directory " +
      "nobody may write); a record there is refused before the unpack (STRATA_BAD_RECORD)",
    () => {
      const box = join(work.path, "fs-error");
      mkdirSync(join(box, "records"), { recursive: true });
      chmodSync(work.path, 0o755);
      // nobody reads the image from the box: the repository may sit in a directory only root reads.
      cpSync(SAMPLE, join(box, "image"), { recursive: true });
      spawnSync("chown", ["65534", box]);
      const image = `oci:${join(box, "image")}:sample`;
      expectCode(
        strataAsNobody(box, ["export", image, "-o", join(box, "records", "x.tar")]),
        "STRATA_FS_ERROR",
      );
      expectCode(
        strataAsNobody(box, [
          "unpack",
          "--record",
          join(box, "records", "r"),
          image,
          join(box, "rootfs"),
        ]),
        "STRATA_BAD_RECORD",
      );
      expect(existsSync(join(box, "rootfs"))).toBe(false);
    },
  );

  it.runIf(root)("STRATA_STORE_MISMATCH: a rootless run on root's store", () => {
    const store = join(work.path, "store");
    expect(
      spawnSync(process.execPath, [
        BIN,
        "unpack",
        "--quiet",
        "--store",
        store,
        `oci:${SAMPLE}:sample`,
      ]).status,
    ).toBe(0);
    expectCode(
      spawnSync(
        process.execPath,
        [BIN, "unpack", "--rootless", "--store", store, `oci:${SAMPLE}:sample`],
        { encoding: "utf8" },
      ),
      "STRATA_STORE_MISMATCH",
    );
  });
});
