import { referrers } from "@strata-oci/core";
import { escapeText } from "@strata-oci/layer";
import { printJson } from "../cli/result-json.js";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource, JSON_FLAG, PLATFORM, REGISTRY, text } from "../cli/flags.js";
import { annotationLines } from "../cli/inspect-text.js";
import { interruptibly } from "../cli/signals.js";

export const referrersCommand: Command = {
  name: "referrers",
  usage: ["strata referrers [options] IMAGE"],
  summary: "list what is attached to an image (signatures, SBOMs)",
  description: `List the manifests whose subject is IMAGE (its index or its manifest):
signatures, SBOMs, attestations, with artifact type, size, digest and
annotations. In an OCI layout, every manifest index.json reaches is searched
(another image's document that breaks a rule is skipped, with a warning); in
a registry, the referrers API (/v2/NAME/referrers/DIGEST) is asked, and where
the registry has none, the index tagged sha256-HEX (the distribution-spec's
fallback).`,
  flags: [
    {
      name: "artifact-type",
      kind: "string",
      value: "TYPE",
      help: "only referrers of this artifact type",
    },
    PLATFORM,
    ...REGISTRY,
    JSON_FLAG,
  ],
  examples: ["strata referrers --artifact-type application/spdx+json oci:layout:app"],
  async run({ values, positionals }) {
    const [image, extra] = positionals;
    if (image === undefined || extra !== undefined)
      throw new UsageError("referrers takes one IMAGE");
    const artifactType = text(values, "artifact-type");
    const found = await interruptibly((signal) =>
      referrers({
        ...imageSource(image, values),
        signal,
        ...(artifactType === undefined ? {} : { artifactType }),
      }),
    );
    if (values.json === true) {
      printJson("referrers", {
        ...found,
        warnings: found.warnings.map((detail) => ({ kind: "skipped-document", detail })),
      });
      return 0;
    }
    const lines = [`subjects   ${found.subjects.join(", ")} (searched: ${found.via})`];
    if (found.referrers.length === 0)
      lines.push(`no referrers${artifactType === undefined ? "" : ` of type ${artifactType}`}`);
    for (const r of found.referrers) {
      const { artifactType: type, digest, size, mediaType, annotations } = r.descriptor;
      const subject = found.subjects.length > 1 ? `  subject ${r.subject}` : "";
      lines.push(
        `${type ?? "(no artifactType)"}  ${digest}  ${size}  ${mediaType ?? ""}${subject}`,
      );
      lines.push(...annotationLines(annotations, "  "));
    }
    process.stdout.write(`${lines.map(escapeText).join("\n")}\n`);
    for (const warning of found.warnings) process.stderr.write(`warning: ${escapeText(warning)}\n`);
    return 0;
  },
};
