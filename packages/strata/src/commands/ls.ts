import { progressDisplay } from "../cli/progress.js";
import { listing, type Image, type ListedEntry } from "@strata-oci/core";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource, JSON_FLAG, limitsOf, PLATFORM, REGISTRY } from "../cli/flags.js";
import { listingLine } from "../cli/listing-text.js";
import { jsonWithList, mappedText, writeOut } from "../cli/output.js";
import { imageJson, resultHead } from "../cli/result-json.js";
import { interruptibly } from "../cli/signals.js";
import { MERGED_LIMITS } from "./merged-limits.js";

export const lsCommand: Command = {
  name: "ls",
  usage: ["strata ls [options] IMAGE [PATH]"],
  summary: "list the merged tree, without unpacking",
  description: `List what IMAGE's merged tree holds at PATH (default /), without unpacking
it: a directory's entries, or the entry itself, as ls -l shows them, with the
layer each comes from (L0 is the first; "-" a directory no entry named).
Symlinks in PATH are followed inside the image. The tree is built from the
layers' headers (every blob read and verified, no file written); memory
follows the number of entries.

Columns: type and mode, owner uid/gid, size, mtime (UTC), layer, path
(-> symlink target). Names are printed escaped (\\xNN for control characters
and bytes that are not UTF-8, \\\\ for a backslash); cat and ls take them so.`,
  flags: [
    {
      name: "recursive",
      short: "R",
      kind: "boolean",
      help: "every entry below PATH, parents first (tar -tv)",
    },
    PLATFORM,
    ...REGISTRY,
    JSON_FLAG,
  ],
  sections: [MERGED_LIMITS],
  examples: ["strata ls -R oci:debian:bookworm /etc/apt"],
  async run({ values, positionals }) {
    const [image, path, extra] = positionals;
    if (image === undefined || extra !== undefined)
      throw new UsageError("ls takes IMAGE and an optional PATH");
    const progress = progressDisplay(values);
    let entries: Iterable<ListedEntry>;
    let read: Image;
    try {
      ({ entries, image: read } = await interruptibly((signal) =>
        listing({
          ...imageSource(image, values),
          signal,
          limits: limitsOf(values),
          ...(path === undefined ? {} : { path }),
          ...(values.recursive === true ? { recursive: true } : {}),
          ...(progress.onProgress === undefined ? {} : { onProgress: progress.onProgress }),
        }),
      ));
    } finally {
      progress.done();
    }
    // Written as the entries are made: a million-entry listing is never held whole.
    await writeOut(
      values.json === true
        ? jsonWithList({ ...resultHead("ls"), image: imageJson(read) }, "entries", entries)
        : mappedText(entries, (e) => `${listingLine(e)}\n`),
    );
    return 0;
  },
};
