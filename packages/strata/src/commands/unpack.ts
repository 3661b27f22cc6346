import { counted, sizeText } from "../cli/output.js";
import { printResult } from "../cli/result-json.js";
import { unpack } from "@strata-oci/core";
import { unpackToStore } from "@strata-oci/store";
import { UsageError, type Command, type FlagValues } from "../cli/command.js";
import {
  startBlobWorkers,
  UNPACK_FLAGS,
  UNPACK_LIMITS,
  withUnpackFlags,
} from "../cli/unpack-flags.js";
import { printWarnings } from "../cli/warnings.js";

async function unpackToStoreCommand(
  values: FlagValues,
  positionals: readonly string[],
  store: string,
): Promise<number> {
  const [image, extra] = positionals;
  if (image === undefined || extra !== undefined)
    throw new UsageError("unpack --store DIR takes IMAGE only (the store is the destination)");
  if (values.record !== undefined)
    throw new UsageError("--record is for a flat unpack, not --store");
  const quiet = values.quiet === true || values.json === true;
  const result = await withUnpackFlags(
    values,
    ({ onProgress, downloads: _downloads, record: _record, ...shared }) =>
      unpackToStore({
        image,
        store,
        ...shared,
        // Off a terminal, the lines below are the steps: a layer stored or found stored.
        ...(process.stderr.isTTY ? { onProgress } : {}),
        ...(quiet
          ? {}
          : {
              onLayer: (event) =>
                process.stderr.write(
                  `${process.stderr.isTTY ? "\r\x1b[K" : ""}layer ${event.index + 1}/` +
                    `${event.count} ${event.chainId.slice(0, 19)}: ` +
                    `${event.written ? "stored" : "already stored"}\n`,
                ),
            }),
      }),
  );
  if (values.json === true) {
    const { store: root, platform, chainIds, written, reused, lowerdir, warnings } = result;
    printResult("unpack", result.image, {
      store: root,
      platform,
      chainIds,
      written,
      reused,
      lowerdir,
      warnings,
    });
  } else if (values.quiet !== true) {
    process.stdout.write(
      `stored ${result.image.reference} in ${result.store}: ` +
        `${counted(result.written, "layer")} extracted, ${result.reused} already there\n` +
        `mount it with: strata mount --store ${result.store} ${image} TARGET\n` +
        `  or: (cd ${result.store} && ` +
        `mount -t overlay overlay -o lowerdir=${result.lowerdir} TARGET)\n`,
    );
    printWarnings(result.warnings);
  }
  return 0;
}

export const unpackCommand: Command = {
  name: "unpack",
  usage: ["strata unpack [options] IMAGE DEST", "strata unpack --store DIR [options] IMAGE"],
  summary: "unpack IMAGE into the new directory DEST, or a layer store",
  description: `Apply IMAGE's layers in order (layers[0] first) into DEST, the way a union
filesystem shows them: whiteouts remove lower files, opaque directories hide
lower contents. Every blob's digest and every layer's diff_id is checked.

DEST must not exist or be an empty directory, and must not be a symlink
or lie inside the image layout. strata writes into a private
(0700) staging directory beside it and renames it into place only when the
whole image is unpacked: a failed or interrupted unpack leaves no DEST.

With --store DIR, IMAGE's layers go into the layer store DIR instead (see
strata help mount): each layer once, in its own directory named by its chain
ID, as the kernel's overlayfs stacks it; layers already stored (shared with
another image) are not extracted again. The mount options are printed.`,
  flags: UNPACK_FLAGS,
  sections: [UNPACK_LIMITS],
  examples: [
    "strata unpack oci:./debian:bookworm rootfs",
    "strata unpack --platform linux/arm64 oci:./multi:latest rootfs-arm64",
    "strata unpack docker-archive:./app.tar /tmp/app-rootfs",
    "strata unpack docker://127.0.0.1:5000/app:1.0 rootfs",
  ],
  async run({ values, positionals }) {
    if (typeof values.store === "string")
      return unpackToStoreCommand(values, positionals, values.store);
    const [image, dest, extra] = positionals;
    if (image === undefined || dest === undefined || extra !== undefined)
      throw new UsageError("unpack takes IMAGE and DEST (or --store DIR and IMAGE)");
    startBlobWorkers();
    const result = await withUnpackFlags(values, (shared) => unpack({ image, dest, ...shared }));
    if (values.json === true) {
      // The layers are the image's (`image.layers`): no count beside them.
      const { image: resolved, layers: _count, ...rest } = result;
      printResult("unpack", resolved, rest);
    } else if (values.quiet !== true) {
      process.stdout.write(
        `unpacked ${result.image.reference}: ${counted(result.layers, "layer")}, ` +
          `${counted(result.entries, "entry", "entries")}, ` +
          `${sizeText(result.bytes)} of file data into ${dest}\n`,
      );
      printWarnings(result.warnings);
    }
    return 0;
  },
};
