import { inspect } from "@strata-oci/core";
import { printJson } from "../cli/result-json.js";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource, JSON_FLAG, PLATFORM, REGISTRY } from "../cli/flags.js";
import { formatSummary } from "../cli/inspect-text.js";
import { interruptibly } from "../cli/signals.js";

export const inspectCommand: Command = {
  name: "inspect",
  usage: ["strata inspect [options] IMAGE"],
  summary: "show an image's indexes, manifest, config and layers",
  description: `Show what IMAGE holds without unpacking it, every field of the image-spec:
the indexes walked (nested ones too) with every manifest they offer and its
platform (os.version and os.features included), the chosen manifest with its
annotations (the spec's pre-defined keys first, each named in full),
artifactType and subject, the config (os, architecture, runtime settings,
volumes, exposed ports, labels, stop signal, history with the steps that made
no layer marked) and the layers with sizes, media types and annotations.
Artifacts (signatures, SBOMs, Helm charts) are shown and marked as not
container images; strata never unpacks them. Harmless deviations from the
spec are shown as warnings naming the producers known to write them.`,
  flags: [PLATFORM, ...REGISTRY, JSON_FLAG],
  examples: ["strata inspect --platform linux/arm64 docker://registry.example/team/app:2"],
  async run({ values, positionals }) {
    const [image, extra] = positionals;
    if (image === undefined || extra !== undefined) throw new UsageError("inspect takes one IMAGE");
    const summary = await interruptibly((signal) =>
      inspect({ ...imageSource(image, values), signal }),
    );
    if (values.json === true)
      printJson("inspect", {
        ...summary,
        warnings: summary.warnings.map((w) => ({ kind: "spec-deviation", ...w })),
      });
    else process.stdout.write(formatSummary(summary));
    return 0;
  },
};
