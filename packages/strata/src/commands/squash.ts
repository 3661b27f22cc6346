import { counted, sizeText } from "../cli/output.js";
import { descriptorJson, printResult } from "../cli/result-json.js";
import { parseSourceDateEpoch, squash } from "@strata-oci/build";
import { progressDisplay } from "../cli/progress.js";
import { UsageError, type Command } from "../cli/command.js";
import {
  COMPRESS,
  compressionOf,
  imageSource,
  JSON_FLAG,
  PLATFORM,
  REGISTRY,
} from "../cli/flags.js";
import { interruptibly } from "../cli/signals.js";

export const squashCommand: Command = {
  name: "squash",
  usage: ["strata squash [options] IMAGE DEST"],
  summary: "the image as a one-layer image",
  description: `Write IMAGE as a one-layer image to DEST: an OCI image layout (oci:DIR[:TAG]
or DIR, made when missing; TAG default "squashed"), oci-archive:FILE[:TAG],
docker-archive:FILE[:REF] or docker://HOST/REPO[:TAG] (a misspelt transport,
docker-archve:, is refused, not taken for a directory). The layer is what
strata export writes (unpacking it gives the same tree as unpacking IMAGE),
the config is IMAGE's with rootfs.diff_ids and history replaced.
Reproducible: the same image gives the same digests (the config's created
time is kept, or taken from SOURCE_DATE_EPOCH when set: whole seconds,
anything else is refused). Blobs are written first, the manifest and the tag
last (a layout's index.json atomically, its other tags kept). Each layer of
IMAGE is read once, its files' bytes kept in $TMPDIR as export keeps them; a
layer going to a registry or an archive is made in a temporary file there
too.`,
  flags: [COMPRESS, PLATFORM, ...REGISTRY, JSON_FLAG],
  examples: [
    "strata squash docker://debian:bookworm oci:flat:bookworm",
    "strata squash oci:app:1 docker://registry.example/app:1-flat",
  ],
  async run({ values, positionals }) {
    const [image, destination, extra] = positionals;
    if (image === undefined || destination === undefined || extra !== undefined)
      throw new UsageError("squash takes IMAGE and DEST");
    const compress = compressionOf(values);
    const sourceDateEpoch = parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
    const progress = progressDisplay(values);
    const result = await interruptibly((signal) =>
      squash({
        ...imageSource(image, values),
        destination,
        signal,
        sourceDateEpoch,
        onProgress: progress.onProgress,
        ...(compress === undefined ? {} : { compress }),
      }),
    ).finally(progress.done);
    const { layer, manifest } = result;
    if (values.quiet === true && values.json !== true) return 0;
    if (values.json === true) {
      printResult("squash", result.image, {
        destination: result.destination,
        manifest: descriptorJson(manifest),
        layer: { ...descriptorJson(layer), diffId: layer.diffId },
        squashed: result.squashed,
      });
      return 0;
    }
    process.stdout.write(
      `squashed ${counted(result.squashed, "layer")} of ${image} into ` +
        `${result.destination} (${manifest.digest}): ` +
        `layer ${layer.digest}, ${sizeText(layer.size)}\n`,
    );
    return 0;
  },
};
