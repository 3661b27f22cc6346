import { progressDisplay } from "../cli/progress.js";
import { pipeClosed, stdoutDrained } from "../cli/closed-pipe.js";
import { cat } from "@strata-oci/core";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource, limitsOf, PLATFORM, REGISTRY } from "../cli/flags.js";
import { interruptibly } from "../cli/signals.js";
import { MERGED_LIMITS } from "./merged-limits.js";

export const catCommand: Command = {
  name: "cat",
  usage: ["strata cat [options] IMAGE PATH"],
  summary: "print one file of the image, without unpacking",
  description: `Write the bytes of the file at PATH in IMAGE's merged tree to stdout, without
unpacking the image: symlinks are followed inside the image (absolute
targets from its root), and the bytes are read from the layer that holds
them. That layer is read to its end after the file, so its digest is still
checked; a mismatch ends with an error (exit 1) after the bytes. PATH may be
written as ls prints it (\\xNN, \\\\).`,
  flags: [PLATFORM, ...REGISTRY],
  sections: [MERGED_LIMITS],
  examples: ["strata cat oci:debian:bookworm /etc/os-release"],
  async run({ values, positionals }) {
    const [image, path, extra] = positionals;
    if (image === undefined || path === undefined || extra !== undefined)
      throw new UsageError("cat takes IMAGE and PATH");
    const progress = progressDisplay(values);
    await interruptibly(async (signal) => {
      for await (const chunk of cat({
        ...imageSource(image, values),
        path,
        signal,
        limits: limitsOf(values),
        ...(progress.onProgress === undefined ? {} : { onProgress: progress.onProgress }),
      })) {
        // The file's bytes may go to the terminal the progress is on.
        progress.done();
        if (pipeClosed()) break;
        if (!process.stdout.write(chunk)) await stdoutDrained();
      }
    }).finally(progress.done);
    return 0;
  },
};
