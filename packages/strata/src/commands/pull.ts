import { counted, sizeText } from "../cli/output.js";
import { pull } from "@strata-oci/core";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource } from "../cli/flags.js";
import { descriptorJson, printResult } from "../cli/result-json.js";
import { COPY_FLAGS } from "./copy.js";
import { progressDisplay } from "../cli/progress.js";
import { interruptibly } from "../cli/signals.js";

export const pullCommand: Command = {
  name: "pull",
  usage: ["strata pull [options] IMAGE oci:DIR[:TAG]"],
  summary: "copy a registry image into an OCI layout",
  description: `Copy a registry image (docker://[HOST/]REPO[:TAG][@DIGEST]: the manifest for
the platform, its config and layers) into the OCI image layout DIR, made when
missing, as TAG (default: the reference's tag, else latest). Every blob is
verified before it gets its name; blobs DIR already has are kept and shared;
index.json is replaced last and atomically, other tags kept. Later unpacks
of oci:DIR:TAG need no network.`,
  flags: COPY_FLAGS,
  examples: [
    "strata pull docker://127.0.0.1:5000/app:1.0 oci:./images:app-1.0",
    "strata unpack oci:./images:app-1.0 rootfs",
  ],
  async run({ values, positionals }) {
    const [image, layout, extra] = positionals;
    if (image === undefined || layout === undefined || extra !== undefined)
      throw new UsageError("pull takes a docker:// IMAGE and an oci:DIR[:TAG]");
    const progress = progressDisplay(values);
    const result = await interruptibly((signal) =>
      pull({
        ...imageSource(image, values),
        layout,
        signal,
        onProgress: (event) => progress.onProgress?.({ kind: "blob", ...event }),
      }),
    ).finally(progress.done);
    if (values.json === true) {
      const { image: pulled, layout: dir, tag, manifest, sent, present, mounted, bytes } = result;
      printResult("pull", pulled, {
        destination: `oci:${dir}:${tag}`,
        manifest: descriptorJson(manifest),
        blobs: { sent, present, mounted, bytes },
      });
    } else if (values.quiet !== true) {
      process.stdout.write(
        `pulled ${result.image.reference} into oci:${result.layout}:${result.tag} ` +
          `(${result.manifest.digest}): ${counted(result.sent, "blob")} written ` +
          `(${sizeText(result.bytes)}), ${result.present} already there\n`,
      );
    }
    return 0;
  },
};
