import { copyImage } from "@strata-oci/image";
import { UsageError, type Command, type FlagSection } from "../cli/command.js";
import { imageSource, JSON_FLAG, PLATFORM, REGISTRY, registryOf } from "../cli/flags.js";
import { counted, sizeText } from "../cli/output.js";
import { progressDisplay } from "../cli/progress.js";
import { descriptorJson, printResult } from "../cli/result-json.js";
import { interruptibly } from "../cli/signals.js";

const formatName = (mediaType: string | undefined): string =>
  mediaType === "application/vnd.docker.distribution.manifest.v2+json" ? "Docker schema 2" : "OCI";

/** The flags of the commands that copy an image (copy, pull). */
export const COPY_FLAGS = [
  { ...PLATFORM, help: "the platform to copy from a multi-platform index" },
  ...REGISTRY,
  JSON_FLAG,
];

/** The registry flags again, for the destination alone (skopeo's --dest-creds and kin). */
const DESTINATION_REGISTRY: FlagSection = {
  title: "Destination registry",
  intro:
    "For a destination registry that needs other settings than the source's " +
    "(without them the flags above apply to both ends)",
  flags: REGISTRY.map((flag) => ({ ...flag, name: `dest-${flag.name}` })),
};

export const copyCommand: Command = {
  name: "copy",
  usage: ["strata copy [options] IMAGE DESTINATION"],
  summary: "copy an image to a layout, an archive or a registry (push)",
  description: `Copy IMAGE (the manifest for the platform, its config and layers) to
DESTINATION: oci:DIR[:TAG] (an OCI layout, made when missing; default tag
latest), oci-archive:FILE[:TAG] (a tarball of a layout, written whole),
docker-archive:FILE[:REF] (what docker load reads, tagged REF) or
docker://HOST/REPO[:TAG] (a registry: a push). Blobs go first, each skipped
where the destination has it and, between repositories of one registry,
mounted rather than sent; then the manifest; the tag last, so that nobody
sees a tag whose blobs are missing; an archive appears only when complete. A
Docker manifest copied into an OCI layout is converted to OCI (the blobs keep
their bytes; skopeo and umoci read only OCI documents there); a
docker-archive's image, which has no manifest, is given the Docker manifest
of its blobs. The registry flags apply to both ends, unless the destination
has its own (--dest-creds and the others below).`,
  flags: [
    {
      name: "all",
      short: "a",
      kind: "boolean",
      help:
        "where IMAGE names an index, copy it whole: every manifest it lists (each platform's, " +
        "nested indexes too), then the index, tagged (as skopeo --all)",
    },
    {
      name: "format",
      short: "f",
      kind: "string",
      value: "oci|v2s2",
      help:
        "the manifest family to write: oci, or v2s2 (Docker schema 2); default as the source " +
        "has it (OCI in a layout). Blobs are never changed: zstd layers have no v2s2 form",
    },
    ...COPY_FLAGS,
  ],
  sections: [DESTINATION_REGISTRY],
  examples: [
    "strata copy oci:./images:app-1.0 docker://registry.example:5000/app:1.0",
    "strata copy docker://debian:bookworm oci:./images:debian",
    "strata copy oci:img:app docker-archive:app.tar:app:1 && docker load -i app.tar",
  ],
  async run({ values, positionals }) {
    const [image, destination, extra] = positionals;
    if (image === undefined || destination === undefined || extra !== undefined)
      throw new UsageError("copy takes IMAGE and DESTINATION");
    const format = values.format;
    if (format !== undefined && format !== "oci" && format !== "v2s2")
      throw new UsageError("--format takes oci or v2s2");
    const progress = progressDisplay(values);
    const result = await interruptibly((signal) =>
      copyImage({
        ...imageSource(image, values),
        destination,
        format,
        all: values.all === true,
        signal,
        destinationRegistry: registryOf(values, "dest-"),
        onProgress: (event) => progress.onProgress?.({ kind: "blob", ...event }),
      }),
    ).finally(progress.done);
    if (values.json === true) {
      const { destination: where, manifest, converted, sent, present, mounted, bytes } = result;
      printResult("copy", result.image, {
        destination: where,
        manifest: descriptorJson(manifest),
        converted,
        blobs: { sent, present, mounted, bytes },
      });
    } else if (values.quiet !== true) {
      const converted = result.converted
        ? `, converted to ${formatName(result.manifest.mediaType)}`
        : "";
      process.stdout.write(
        `copied ${result.image.reference} to ${result.destination} (${result.manifest.digest}` +
          `${converted}): ` +
          `${counted(result.sent, "blob")} sent (${sizeText(result.bytes)}), ` +
          `${result.present} already there, ${result.mounted} mounted\n`,
      );
    }
    return 0;
  },
};
