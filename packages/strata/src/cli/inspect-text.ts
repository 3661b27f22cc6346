// What `strata inspect` and `strata referrers` print: every field an image
// has, one line each, text from the image escaped (name-spelling).
import { sizeText } from "./output.js";
import {
  PREDEFINED_ANNOTATIONS,
  type DescriptorSummary,
  type ImageSummary,
} from "@strata-oci/core";
import { escapeText } from "@strata-oci/layer";

/** `os/arch[/variant]` with os.version and os.features when set. */
function platformText(p: DescriptorSummary["platform"]): string {
  if (p === undefined) return "";
  const base = [p.os, p.architecture, p.variant].filter(Boolean).join("/");
  const extra = [
    p.osVersion === undefined ? "" : `os.version=${p.osVersion}`,
    p.osFeatures === undefined ? "" : `os.features=${p.osFeatures.join(",")}`,
  ].filter(Boolean);
  return extra.length === 0 ? base : `${base} (${extra.join(" ")})`;
}

/** Annotations, the spec's pre-defined keys first (in its order), each key in full. */
export function annotationLines(
  annotations: Readonly<Record<string, string>>,
  indent: string,
): string[] {
  const keys = Object.keys(annotations);
  if (keys.length === 0) return [];
  const ordered = [
    ...PREDEFINED_ANNOTATIONS.filter((k) => k in annotations),
    ...keys.filter((k) => !PREDEFINED_ANNOTATIONS.includes(k)).sort(),
  ];
  return [`${indent}annotations`, ...ordered.map((k) => `${indent}  ${k}: ${annotations[k]}`)];
}

function descriptorLine(d: DescriptorSummary): string {
  return [
    d.digest,
    d.mediaType ?? "(no mediaType)",
    String(d.size),
    platformText(d.platform),
    d.artifactType === undefined ? "" : `artifactType=${d.artifactType}`,
  ]
    .filter(Boolean)
    .join("  ");
}

export function formatSummary(s: ImageSummary): string {
  const lines = [`image      ${s.reference} (${s.transport})`];
  for (const index of s.indexes) {
    lines.push(
      `${index.where === "index.json" ? "index.json" : `index      ${index.where}`}  ` +
        `${index.mediaType ?? "(no mediaType)"}` +
        `${index.artifactType === undefined ? "" : `  artifactType=${index.artifactType}`}`,
    );
    if (index.subject !== undefined) lines.push(`  subject  ${descriptorLine(index.subject)}`);
    lines.push(...annotationLines(index.annotations, "  "));
    lines.push(`  manifests (${index.manifests.length})`);
    for (const m of index.manifests) {
      lines.push(`    ${descriptorLine(m)}`);
      lines.push(...annotationLines(m.annotations, "      "));
    }
  }
  if (s.indexes.length === 0 && s.choices.length > 1) {
    lines.push("manifests");
    for (const c of s.choices)
      lines.push(
        `  ${c.tag ?? "(untagged)"}  ${c.digest || "-"}` +
          `${c.platform === undefined ? "" : `  ${c.platform}`}`,
      );
  }
  const m = s.manifest;
  if (m !== undefined) {
    lines.push(`manifest   ${m.digest}  ${m.mediaType ?? "(no mediaType)"}  ${m.size}`);
    if (m.artifact !== undefined)
      lines.push(`  NOT A CONTAINER IMAGE: ${m.artifact} (strata does not unpack it)`);
    if (m.artifactType !== undefined) lines.push(`  artifactType  ${m.artifactType}`);
    if (m.subject !== undefined) lines.push(`  subject  ${descriptorLine(m.subject)}`);
    lines.push(...annotationLines(m.annotations, "  "));
  }
  const c = s.config;
  lines.push(
    `config     ${c.digest ?? "-"}  ${c.mediaType ?? ""}  ` +
      `${[c.os, c.architecture, c.variant].filter(Boolean).join("/")}`.trimEnd(),
  );
  if (c.created !== undefined) lines.push(`  created    ${c.created}`);
  if (c.author !== undefined) lines.push(`  author     ${c.author}`);
  for (const key of ["User", "WorkingDir", "Entrypoint", "Cmd", "Env"]) {
    const value = c.runtime[key];
    if (value !== undefined) lines.push(`  ${key.padEnd(10)} ${JSON.stringify(value)}`);
  }
  if (c.volumes.length > 0) lines.push(`  Volumes    ${c.volumes.join(", ")}`);
  if (c.exposedPorts.length > 0) lines.push(`  ExposedPorts ${c.exposedPorts.join(", ")}`);
  if (c.stopSignal !== undefined) lines.push(`  StopSignal ${c.stopSignal}`);
  const labels = Object.keys(c.labels).sort();
  if (labels.length > 0) lines.push("  Labels", ...labels.map((k) => `    ${k}=${c.labels[k]}`));
  if (c.history.length > 0) {
    lines.push(
      `  history (${c.history.length} steps, ` +
        `${c.history.filter((h) => h.emptyLayer).length} without a layer)`,
    );
    for (const h of c.history) {
      const made = h.emptyLayer ? "(empty)  " : `layer ${String(h.layer).padEnd(3)}`;
      lines.push(
        `    ${made} ${h.created ?? "-"}  ` +
          `${(h.createdBy ?? h.comment ?? "").replace(/\s+/g, " ").slice(0, 100)}`,
      );
    }
  }
  lines.push(`layers     ${s.layers.length}, ${sizeText(s.totalSize)}`);
  s.layers.forEach((l, i) => {
    lines.push(
      `  ${String(i).padStart(2)} ${l.digest ?? "(unnamed)"} ${String(l.size).padStart(12)} ` +
        `${l.mediaType ?? "(tar, sniffed)"}`,
    );
    lines.push(...annotationLines(l.annotations, "     "));
  });
  for (const w of s.warnings)
    lines.push(
      `warning    ${w.detail}: accepted, though the ` +
        `image-spec says ${w.rule}` +
        `${w.producers === undefined ? "" : ` (written by ${w.producers})`}`,
    );
  return `${lines.map(escapeText).join("\n")}\n`;
}
