// Issue #24, item 4: export reads each layer once. The pass that builds the merged tree keeps the
// files' bytes in an unlinked temporary file; the tar is written from it. Proven here by removing
// each blob as soon as its layer has been read, by looking at the running command's open files
// and TMPDIR, and by a TMPDIR too small for the bytes.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exportImage } from "@strata-oci/build";
import { writeOciLayout } from "@strata-oci/image";
import { encodeMember } from "@strata-oci/layer";
import { tempDir } from "@strata-oci/testing";
import { withTmpfs } from "../../../test/support/tmpfs.js";

const SAMPLE = join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci");
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");
const work = tempDir("strata-export-once-");
afterAll(() => work.remove());
const privileged = process.geteuid?.() === 0;

async function exported(
  image: string,
  onProgress?: Parameters<typeof exportImage>[0]["onProgress"],
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of exportImage({ image, ...(onProgress ? { onProgress } : {}) }))
    parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** A one-layer image holding a file of `size` bytes (a pattern, so that a wrong offset shows). */
function bigFileImage(name: string, size: number): string {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) data.writeUInt32BE(i, i);
  const tar = Buffer.concat([
    ...encodeMember({ name: "small.txt", type: "file", data: "before\n", mtime: 1 }),
    ...encodeMember({ name: "big.bin", type: "file", data, mtime: 1 }),
    ...encodeMember({ name: "after.txt", type: "file", data: "after\n", mtime: 1 }),
    Buffer.alloc(1024),
  ]);
  writeOciLayout(join(work.path, name), { layers: [{ tar }], tag: "t" });
  return `oci:${join(work.path, name)}:t`;
}

describe("export reads each layer once (#24.4)", () => {
  it("each blob removed as soon as its layer is read: export still writes the same bytes", async () => {
    const expected = await exported(`oci:${SAMPLE}:sample`);
    const copy = join(work.path, "sample-copy");
    cpSync(SAMPLE, copy, { recursive: true });
    const removed: string[] = [];
    const digests = new Map<number, string>();
    const tar = await exported(`oci:${copy}:sample`, (event) => {
      if (event.kind === "layer-start") digests.set(event.index, event.digest);
      if (event.kind !== "layer-done") return;
      const [, hex] = (digests.get(event.index) as string).split(":");
      rmSync(join(copy, "blobs", "sha256", hex as string));
      removed.push(hex as string);
    });
    expect(removed).toHaveLength(3);
    expect(tar.equals(expected)).toBe(true);
  });

  it("transientChunks lends one buffer again and again; the tar is the same", async () => {
    const image = bigFileImage("lent", 3 << 20);
    const expected = await exported(image);
    const seen = new Set<Buffer>();
    const parts: Buffer[] = [];
    for await (const chunk of exportImage({ image, transientChunks: true })) {
      seen.add(chunk);
      parts.push(Buffer.from(chunk));
    }
    expect(parts.length).toBeGreaterThan(2);
    expect(seen.size).toBeLessThan(parts.length);
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
  });

  it("the bytes wait in an unlinked file: nothing in TMPDIR while export runs, after, or after a kill", async () => {
    const image = bigFileImage("big", 8 << 20);
    const tmp = join(work.path, "tmp");
    mkdirSync(tmp);
    const child = spawn(process.execPath, [BIN, "export", "-q", image, "-o", "-"], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // The first output, then stdout left unread: export waits, its spool open.
    await new Promise((resolve) => child.stdout.once("data", resolve));
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const open = readdirSync(`/proc/${child.pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${child.pid}/fd/${fd}`);
      } catch {
        return "";
      }
    });
    expect(open.filter((file) => file.startsWith(tmp))).toEqual([
      expect.stringMatching(/\/strata-export-\w+\/bodies \(deleted\)$/),
    ]);
    expect(readdirSync(tmp)).toEqual([]);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    expect(readdirSync(tmp)).toEqual([]);

    const file = join(work.path, "big.tar");
    const run = spawnSync(process.execPath, [BIN, "export", "-q", image, "-o", file], {
      env: { ...process.env, TMPDIR: tmp },
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    const extracted = join(work.path, "big-extracted");
    mkdirSync(extracted);
    expect(spawnSync("tar", ["-xf", file, "-C", extracted]).status).toBe(0);
    const unpacked = join(work.path, "big-unpacked");
    expect(spawnSync(process.execPath, [BIN, "unpack", "-q", image, unpacked]).status).toBe(0);
    const diff = spawnSync("diff", ["-r", extracted, unpacked], { encoding: "utf8" });
    expect(diff.stdout + diff.stderr).toBe("");
  });

  it("a consumer that writes each chunk synchronously can still be stopped: the abort is seen", async () => {
    // Zeros: quick to compress here; export's writing does not care what the bytes are.
    const tar = Buffer.concat([
      ...encodeMember({ name: "zeros.bin", type: "file", data: Buffer.alloc(64 << 20), mtime: 1 }),
      Buffer.alloc(1024),
    ]);
    writeOciLayout(join(work.path, "zeros"), { layers: [{ tar }], tag: "t" });
    const controller = new AbortController();
    let chunks = 0;
    // As the CLI's -o FILE: each chunk written (here: 5 ms of busy work) before the next. The
    // abort comes from a timer, which runs only if export lets the event loop turn (SIGINT too).
    const consumed = (async () => {
      for await (const _chunk of exportImage({
        image: `oci:${join(work.path, "zeros")}:t`,
        transientChunks: true,
        signal: controller.signal,
      })) {
        if (chunks++ === 0) setTimeout(() => controller.abort(), 0);
        for (const until = performance.now() + 5; performance.now() < until;);
      }
    })();
    await expect(consumed).rejects.toMatchObject({ code: "STRATA_ABORTED" });
    expect(chunks).toBeLessThan(40);
  });

  it("-o FILE in a directory that is not there is STRATA_FS_ERROR, not an internal error", () => {
    const file = join(work.path, "missing-dir", "out.tar");
    const run = spawnSync(
      process.execPath,
      [BIN, "export", "-q", `oci:${SAMPLE}:sample`, "-o", file],
      {
        encoding: "utf8",
      },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("code: STRATA_FS_ERROR");
    expect(run.stderr).toContain("ENOENT");
    expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(existsSync(join(work.path, "missing-dir"))).toBe(false);
  });

  it.skipIf(!privileged)(
    "-o FILE on a full filesystem is STRATA_NO_SPACE, and no partial file is left",
    () => {
      const image = bigFileImage("full-out", 4 << 20);
      withTmpfs(join(work.path, "full-fs"), "size=1m", (out) => {
        const run = spawnSync(
          process.execPath,
          [BIN, "export", "-q", image, "-o", join(out, "x.tar")],
          { encoding: "utf8" },
        );
        expect(run.status).toBe(1);
        expect(run.stderr).toContain("code: STRATA_NO_SPACE");
        expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
        expect(readdirSync(out)).toEqual([]);
      });
    },
  );

  it.skipIf(!privileged)(
    "a TMPDIR without room for the bytes is STRATA_FS_ERROR naming TMPDIR; no tar is left",
    () => {
      const image = bigFileImage("too-big", 4 << 20);
      withTmpfs(join(work.path, "small-tmp"), "size=1m", (tmp) => {
        const file = join(work.path, "too-big.tar");
        const run = spawnSync(process.execPath, [BIN, "export", "-q", image, "-o", file], {
          env: { ...process.env, TMPDIR: tmp },
          encoding: "utf8",
        });
        expect(run.status).toBe(1);
        expect(run.stderr).toContain("code: STRATA_FS_ERROR");
        expect(run.stderr).toContain("ENOSPC");
        expect(run.stderr).toContain("TMPDIR");
        expect(run.stderr).not.toMatch(/\n\s+at /);
        expect(existsSync(file)).toBe(false);
        expect(readdirSync(tmp)).toEqual([]);
      });
    },
  );
});
