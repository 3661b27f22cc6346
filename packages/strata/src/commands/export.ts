import { progressDisplay } from "../cli/progress.js";
import { exportImage } from "@strata-oci/build";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource, limitsOf, PLATFORM, REGISTRY, text } from "../cli/flags.js";
import { imageFiles, refuseStdoutInto, writeTarOutput } from "../cli/output.js";
import { interruptibly } from "../cli/signals.js";
import { MERGED_LIMITS } from "./merged-limits.js";

export const OUTPUT_TAR = {
  name: "output",
  short: "o",
  kind: "string",
  value: "FILE|-",
  help: "where to write the tar (- for stdout; the default where stdout is not a terminal)",
} as const;

export const exportCommand: Command = {
  name: "export",
  usage: ["strata export [options] IMAGE [-o FILE|-]"],
  summary: "the merged tree as one tar (docker export)",
  description: `Write IMAGE's merged tree as one uncompressed tar, what docker export gives,
without writing a rootfs: directories, symlinks, devices and fifos first,
then every file's bytes (further names of a file as hardlinks). Each layer
is read once: its files' bytes wait in an unlinked temporary file in $TMPDIR
(room for the image's files) until the tree is known. Owners are numeric,
xattrs are SCHILY.xattr PAX records, names and times exact (PAX where ustar
cannot hold them). The same image gives the same bytes. FILE may not lie in
what the command reads (the image's layout or archive).
Extract it as root with:
tar --xattrs --xattrs-include='*' --numeric-owner -xpf FILE`,
  flags: [OUTPUT_TAR, PLATFORM, ...REGISTRY],
  sections: [MERGED_LIMITS],
  examples: ["strata export oci:debian:bookworm -o - | gzip > rootfs.tar.gz"],
  async run({ values, positionals }) {
    const [image, extra] = positionals;
    const output = text(values, "output") ?? (process.stdout.isTTY ? undefined : "-");
    if (image === undefined || extra !== undefined) throw new UsageError("export takes one IMAGE");
    if (output === undefined)
      throw new UsageError("say where the tar goes: -o FILE, or redirect stdout");
    const reads = imageFiles(image);
    refuseStdoutInto(output, reads);
    const progress = progressDisplay(values);
    await interruptibly((signal) =>
      writeTarOutput(
        output,
        exportImage({
          ...imageSource(image, values),
          signal,
          limits: limitsOf(values),
          // Each chunk is written (or copied, for stdout) before the next: one buffer serves all.
          transientChunks: true,
          ...(progress.onProgress === undefined ? {} : { onProgress: progress.onProgress }),
        }),
        reads,
        true,
      ),
    ).finally(progress.done);
    return 0;
  },
};
