import { sizeText } from "../cli/output.js";
import { descriptorJson, printResult } from "../cli/result-json.js";
import { statSync } from "node:fs";
import { parseSourceDateEpoch, repack, type RepackResult } from "@strata-oci/build";
import { progressDisplay } from "../cli/progress.js";
import { UsageError, type Command } from "../cli/command.js";
import {
  COMPRESS,
  compressionOf,
  imageSource,
  JSON_FLAG,
  PLATFORM,
  REGISTRY,
  text,
} from "../cli/flags.js";
import { interruptibly } from "../cli/signals.js";
import { OWNER_FLAGS, rootlessOf } from "./owners.js";

export const repackCommand: Command = {
  name: "repack",
  usage: ["strata repack [options] IMAGE ROOTFS DEST"],
  summary: "IMAGE plus the changes made in ROOTFS",
  description: `Append to IMAGE (oci:DIR[:TAG] or docker://...) one layer: the changeset
from IMAGE's tree to ROOTFS, as strata diff writes it, with its diff_id and a
history step in the config. The new image goes to DEST: an OCI layout
(oci:DIR[:TAG] or DIR; TAG default "repacked"), oci-archive:FILE[:TAG],
docker-archive:FILE[:REF] or docker://HOST/REPO[:TAG], the base layers
copied there where missing (mounted from the base's repository on the same
registry); blobs first, the manifest and the tag last (a layout's other
tags kept). The manifest is OCI, media types included, whatever the base's
family. An unchanged ROOTFS adds no layer,
only an empty history step. With SOURCE_DATE_EPOCH set (whole seconds;
anything else is refused), times after it are clamped to it and the
config's times are it: the same change gives the same digests.

IMAGE's tree is what --record FILE describes, when ROOTFS was unpacked with
--record FILE: then only ROOTFS is read, and of its files only those whose
inode or change time is not the recorded one (a write, chmod, chown, xattr
or link sets the change time; nothing sets it back); FILE is rewritten for
the new image, for the next repack. Without --record, IMAGE is unpacked
beside ROOTFS and compared with it, metadata first, then bytes.`,
  flags: [
    COMPRESS,
    {
      name: "record",
      kind: "string",
      value: "FILE",
      help: "the record written by unpack --record FILE",
    },
    ...OWNER_FLAGS,
    { name: "created-by", kind: "string", value: "TEXT", help: "the history step's created_by" },
    PLATFORM,
    ...REGISTRY,
    JSON_FLAG,
  ],
  examples: [
    "strata unpack oci:app:1 rootfs && echo 'x' > rootfs/etc/x &&",
    "  strata repack oci:app:1 rootfs oci:app:2",
    "strata unpack --record app.record oci:app:1 rootfs && ... &&",
    "  strata repack --record app.record oci:app:1 rootfs oci:app:2",
  ],
  async run({ values, positionals }) {
    const [image, rootfs, destination, extra] = positionals;
    if (
      image === undefined ||
      rootfs === undefined ||
      destination === undefined ||
      extra !== undefined
    ) {
      throw new UsageError("repack takes IMAGE, ROOTFS and DEST");
    }
    const compress = compressionOf(values);
    const rootless = rootlessOf(values);
    if (statSync(rootfs, { throwIfNoEntry: false })?.isDirectory() !== true)
      throw new UsageError(`${rootfs} is not a directory`);
    const createdBy = text(values, "created-by");
    const record = text(values, "record");
    const sourceDateEpoch = parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
    const progress = progressDisplay(values);
    const result = await interruptibly((signal) =>
      repack({
        ...imageSource(image, values),
        rootfs,
        destination,
        signal,
        sourceDateEpoch,
        onProgress: progress.onProgress,
        ...(compress === undefined ? {} : { compress }),
        ...(rootless === undefined ? {} : { rootless }),
        ...(createdBy === undefined ? {} : { createdBy }),
        ...(record === undefined ? {} : { record }),
      }),
    ).finally(progress.done);
    if (values.quiet === true && values.json !== true) return 0;
    const layer =
      result.layer === undefined
        ? "no change, no layer"
        : `layer ${result.layer.digest}, ${sizeText(result.layer.size)}`;
    if (values.json === true) {
      printResult("repack", result.image, {
        destination: result.destination,
        manifest: descriptorJson(result.manifest),
        layer:
          result.layer === undefined
            ? null
            : { ...descriptorJson(result.layer), diffId: result.layer.diffId },
        baseLayers: result.baseLayers,
      });
      return 0;
    }
    process.stdout.write(
      `repacked ${rootfs} onto ${image} as ${result.destination} ` +
        `(${result.manifest.digest}): ${layer}; base layers ${baseLayersText(result.baseLayers)}\n`,
    );
    return 0;
  },
};

function baseLayersText({ sent, present, mounted, bytes }: RepackResult["baseLayers"]): string {
  return (
    [
      sent > 0 ? `${sent} sent (${sizeText(bytes)})` : "",
      present > 0 ? `${present} already there` : "",
      mounted > 0 ? `${mounted} mounted` : "",
    ]
      .filter((part) => part !== "")
      .join(", ") || "none"
  );
}
