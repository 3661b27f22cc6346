import { limits } from "../cli/flags.js";

/** ls, cat and export hold the image's merged view in memory: --max-entries bounds it. */
export const MERGED_LIMITS = limits(
  "The merged view is held in memory (about 240 bytes an entry): --max-entries " +
    "bounds it as it bounds a layer; the others bound each layer as unpack's do. " +
    "Raise a limit only for images you trust",
);
