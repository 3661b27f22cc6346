// strata analyse as text: the image's totals, a table of layers, the largest
// wasted paths and the paths several layers wrote.
import type { ImageAnalysis } from "@strata-oci/core";
import { escapeName, escapeText } from "@strata-oci/layer";
import { counted, sizeText } from "./output.js";

const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;
// Names and history steps as the image has them, escaped: a terminal obeys what a name holds.
const shown = (path: Buffer): string => `/${escapeName(path)}`;

function table(rows: readonly string[][]): string {
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function analysisText(analysis: ImageAnalysis): string {
  const { image, layers, totals } = analysis;
  const lines = [
    `image       ${image.reference} (${counted(layers.length, "layer")})`,
    `size        ${sizeText(totals.compressedBytes)} compressed, ` +
      `${sizeText(totals.tarBytes)} of tar, ` +
      `${counted(totals.entries, "path")} in the merged view`,
    `efficiency  ${percent(totals.efficiency)}: ${sizeText(totals.keptBytes)} of the ` +
      `${sizeText(totals.fileBytes)} the layers' files hold reach the merged view; ` +
      `${sizeText(totals.wastedBytes)} wasted`,
    "",
    table([
      ["layer", "compressed", "tar", "added", "changed", "removed", "kept", "wasted", "created by"],
      ...layers.map((layer) => [
        `L${layer.index}`,
        sizeText(layer.compressedBytes),
        sizeText(layer.tarBytes),
        String(layer.added),
        `${layer.changed.content}+${layer.changed.metadata}`,
        String(layer.removed),
        sizeText(layer.keptBytes),
        sizeText(layer.wastedBytes),
        escapeText((layer.createdBy ?? "").replace(/\s+/g, " ").slice(0, 60)),
      ]),
    ]),
    "(changed: content + metadata only; removed: lower entries whited out or replaced)",
  ];
  if (analysis.largestWasted.length > 0)
    lines.push(
      "",
      "largest wasted paths",
      table(
        analysis.largestWasted.map((wasted) => [
          `  ${sizeText(wasted.size)}`,
          shown(wasted.path),
          `written by L${wasted.layer}, ${wasted.how} by L${wasted.hiddenBy}`,
        ]),
      ),
    );
  if (analysis.repeated.length > 0)
    lines.push(
      "",
      "paths written by several layers",
      table(
        analysis.repeated.map((repeated) => [
          `  ${sizeText(repeated.bytes)}`,
          shown(repeated.path),
          repeated.layers.map((layer) => `L${layer}`).join(", "),
        ]),
      ),
    );
  return `${lines.join("\n")}\n`;
}
