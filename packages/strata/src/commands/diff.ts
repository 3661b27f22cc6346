import { mkdtempSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { diffTrees } from "@strata-oci/build";
import { unpack } from "@strata-oci/core";
import { UsageError, type Command } from "../cli/command.js";
import { text } from "../cli/flags.js";
import { progressDisplay } from "../cli/progress.js";
import { interruptibly } from "../cli/signals.js";
import { imageFiles, stdoutFile, writeTarOutput } from "../cli/output.js";
import { OUTPUT_TAR } from "./export.js";
import { OWNER_FLAGS, rootlessOf } from "./owners.js";

const isDirectory = (path: string): boolean =>
  statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;

export const diffCommand: Command = {
  name: "diff",
  usage: ["strata diff [options] LOWER UPPER [-o FILE|-]"],
  summary: "the layer that turns LOWER into UPPER",
  description: `Write the OCI layer (an uncompressed tar) that turns the directory LOWER
into the directory UPPER when applied on top of it: added and changed
entries, a .wh.NAME whiteout for each removal, a type change as the new
entry, hardlink groups kept, xattrs, devices and owners. A change is seen in
the metadata (type, mode, owner, size, mtime, xattrs, link target, device)
or, where all of that is the same, in the bytes. Entries in byte order: the
same two trees give the same tar. LOWER may be an image (unpacked to a
temporary directory first). Both trees are read through held directories,
never following a link: a tree that changes while it is read (a running
container) ends with STRATA_TREE_CHANGED. FILE may not lie inside UPPER.`,
  flags: [OUTPUT_TAR, ...OWNER_FLAGS],
  examples: ["strata diff rootfs.orig rootfs -o layer.tar"],
  async run({ values, positionals }) {
    const [lower, upper, extra] = positionals;
    const output = text(values, "output") ?? (process.stdout.isTTY ? undefined : "-");
    if (lower === undefined || upper === undefined || extra !== undefined)
      throw new UsageError("diff takes LOWER and UPPER");
    if (output === undefined)
      throw new UsageError("say where the layer goes: -o FILE, or redirect stdout");
    const rootless = rootlessOf(values);
    if (!isDirectory(upper)) throw new UsageError(`${upper} is not a directory`);
    // LOWER may be an image: unpacked beside UPPER (the same filesystem), removed after.
    const scratch = isDirectory(lower)
      ? undefined
      : mkdtempSync(join(dirname(resolve(upper)), ".strata-diff-"));
    const lowerDir = scratch === undefined ? lower : join(scratch, "rootfs");
    const progress = progressDisplay(values);
    try {
      await interruptibly(async (signal) => {
        if (scratch !== undefined)
          await unpack({
            image: lower,
            dest: lowerDir,
            signal,
            onProgress: progress.onProgress,
            ...(rootless === undefined ? {} : { rootless }),
          });
        // stdout redirected into UPPER: that file is left out, as GNU tar leaves out its archive.
        const out = output === "-" ? stdoutFile() : undefined;
        const skip = out === undefined ? undefined : { dev: BigInt(out.dev), ino: BigInt(out.ino) };
        const options = {
          lower: lowerDir,
          upper,
          signal,
          onProgress: progress.onProgress,
          ...(rootless === undefined ? {} : { rootless }),
          ...(skip === undefined ? {} : { skip }),
        };
        await writeTarOutput(output, diffTrees(options), [
          upper,
          ...(scratch === undefined ? [lower] : imageFiles(lower)),
        ]);
      });
    } finally {
      progress.done();
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    }
    return 0;
  },
};
