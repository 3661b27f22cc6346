// strata analyse --html: one self-contained page (no network, no script)
// with a picture of the image. Each layer as a bar of the bytes it keeps and
// the bytes it wastes; the merged view as a treemap coloured by the layer
// each path comes from; the largest wasted paths and the paths several
// layers wrote. Every figure is also in a table with a caption, every shape
// has a text alternative and can be reached with the keyboard.
import type { ImageAnalysis, LayerAnalysis } from "@strata-oci/core";
import { sizeText } from "../cli/output.js";
import { treemap } from "./treemap.js";

const WIDTH = 1200;

function escape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

const size = (bytes: number): string => sizeText(bytes, true);

/** A colour per layer: hues spread around the wheel, dark enough for white text. */
export function layerColour(layer: number, layers: number): string {
  const hue = Math.round((layer * 360) / Math.max(1, layers) + 200) % 360;
  return `hsl(${hue} 55% 38%)`;
}

/** A shape's group: a list item the keyboard reaches, with its text alternative. */
const shapeStart = (label: string): string =>
  `<g role="listitem" tabindex="0" aria-label="${escape(label)}">` +
  `<title>${escape(label)}</title>`;

function bars(layers: readonly LayerAnalysis[]): string {
  const largest = Math.max(1, ...layers.map((layer) => layer.fileBytes));
  const rowHeight = 28;
  const height = layers.length * rowHeight + 8;
  const labelWidth = 70;
  const scale = (WIDTH - labelWidth - 220) / largest;
  const rows = layers.map((layer, row) => {
    const y = row * rowHeight;
    const kept = layer.keptBytes * scale;
    const wasted = layer.wastedBytes * scale;
    const label =
      `Layer L${layer.index}: ${size(layer.keptBytes)} kept, ${size(layer.wastedBytes)} wasted` +
      (layer.createdBy === undefined ? "" : `, made by ${layer.createdBy}`);
    return (
      `${shapeStart(label)}` +
      `<text x="0" y="${y + 18}" class="axis">L${layer.index}</text>` +
      `<rect x="${labelWidth}" y="${y + 4}" width="${kept.toFixed(1)}" height="20" ` +
      `fill="${layerColour(layer.index, layers.length)}"/>` +
      `<rect x="${(labelWidth + kept).toFixed(1)}" y="${y + 4}" width="${wasted.toFixed(1)}" ` +
      `height="20" fill="url(#wasted)" stroke="#b3261e"/>` +
      `<text x="${(labelWidth + kept + wasted + 8).toFixed(1)}" y="${y + 18}">` +
      `${escape(size(layer.keptBytes))} kept, ${escape(size(layer.wastedBytes))} wasted</text></g>`
    );
  });
  return (
    `<svg role="list" aria-label="Kept and wasted bytes of each layer" width="${WIDTH}" ` +
    `height="${height}" viewBox="0 0 ${WIDTH} ${height}">` +
    `<defs><pattern id="wasted" width="6" height="6" patternUnits="userSpaceOnUse" ` +
    `patternTransform="rotate(45)"><rect width="6" height="6" fill="#f9dedc"/>` +
    `<line x1="0" y1="0" x2="0" y2="6" stroke="#b3261e" stroke-width="3"/></pattern></defs>` +
    `${rows.join("")}</svg>`
  );
}

function map(analysis: ImageAnalysis): string {
  const height = 640;
  const tiles = treemap(analysis.tree, { x: 0, y: 0, width: WIDTH, height }, 3);
  const layers = analysis.layers.length;
  const shapes = tiles.map((tile) => {
    const { node } = tile;
    const label = `${node.path}: ${size(node.size)}, from layer L${node.layer}`;
    const text =
      tile.width > 60 && tile.height > 14
        ? `<text x="${(tile.x + 4).toFixed(1)}" y="${(tile.y + 12).toFixed(1)}" class="tile">` +
          `${escape(node.name.slice(0, Math.floor(tile.width / 7)))}</text>`
        : "";
    return (
      `${shapeStart(label)}` +
      `<rect x="${tile.x.toFixed(1)}" y="${tile.y.toFixed(1)}" width="${tile.width.toFixed(1)}" ` +
      `height="${tile.height.toFixed(1)}" fill="${layerColour(node.layer, layers)}" ` +
      `fill-opacity="${(0.55 + 0.15 * tile.depth).toFixed(2)}" stroke="#fff"/>${text}</g>`
    );
  });
  return (
    `<svg role="list" aria-label="Treemap of the merged view: area is size, colour is the layer" ` +
    `width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">${shapes.join("")}</svg>`
  );
}

function legend(layers: readonly LayerAnalysis[]): string {
  return `<ul class="legend" aria-label="Layer colours">${layers
    .map(
      (layer) =>
        `<li><span class="swatch" style="background:${layerColour(layer.index, layers.length)}">` +
        `</span>L${layer.index} ` +
        `${escape((layer.createdBy ?? layer.digest ?? "").slice(0, 80))}</li>`,
    )
    .join("")}</ul>`;
}

function htmlTable(caption: string, head: readonly string[], rows: readonly string[][]): string {
  if (rows.length === 0) return "";
  return (
    `<table><caption>${escape(caption)}</caption><thead><tr>` +
    head.map((cell) => `<th scope="col">${escape(cell)}</th>`).join("") +
    `</tr></thead><tbody>` +
    rows
      .map((row) => `<tr>${row.map((cell) => `<td>${escape(cell)}</td>`).join("")}</tr>`)
      .join("") +
    `</tbody></table>`
  );
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:24px auto;
max-width:${WIDTH}px;color:#1b1b1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.figures{display:flex;gap:32px;flex-wrap:wrap}.figures div{font-size:13px;color:#444}
.figures strong{display:block;font-size:22px;color:#1b1b1f}
svg text{font-size:12px;fill:#1b1b1f}svg text.tile{fill:#fff;pointer-events:none}
g[tabindex]:focus{outline:3px solid #1a73e8}table{border-collapse:collapse;margin:8px 0;width:100%}
caption{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
th,td{border-bottom:1px solid #ddd;
padding:4px 8px;text-align:left;font-variant-numeric:tabular-nums}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px}`;

const figure = (name: string, value: string): string =>
  `<div><strong>${escape(value)}</strong>${escape(name)}</div>`;

/** The report of `analysis` as one HTML page. */
export function analysisHtml(analysis: ImageAnalysis): string {
  const { image, layers, totals } = analysis;
  const shown = (path: Buffer): string => `/${path.toString("utf8")}`;
  const figures: Array<[string, string]> = [
    ["efficiency", `${(totals.efficiency * 100).toFixed(1)}%`],
    ["wasted", size(totals.wastedBytes)],
    ["kept", size(totals.keptBytes)],
    ["compressed", size(totals.compressedBytes)],
    ["layers", String(layers.length)],
    ["paths", String(totals.entries)],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>strata analyse: ${escape(image.reference)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><main>
<h1>${escape(image.reference)}</h1>
<p>What each layer adds, keeps and wastes, read from the layers' headers by strata analyse.
Efficiency is the share of the bytes the layers' files hold that reach the merged view.</p>
<div class="figures">${figures.map(([name, value]) => figure(name, value)).join("")}</div>
<h2 id="layers">Layers: kept and wasted bytes</h2>
${bars(layers)}
${htmlTable(
  "Layers",
  ["layer", "compressed", "tar", "added", "changed", "removed", "kept", "wasted", "created by"],
  layers.map((layer) => [
    `L${layer.index}`,
    size(layer.compressedBytes),
    size(layer.tarBytes),
    String(layer.added),
    `${layer.changed.content} content, ${layer.changed.metadata} metadata`,
    String(layer.removed),
    size(layer.keptBytes),
    size(layer.wastedBytes),
    layer.createdBy ?? "",
  ]),
)}
<h2 id="tree">The merged view by layer</h2>
${legend(layers)}
${map(analysis)}
<h2 id="wasted">Largest wasted paths</h2>
${
  htmlTable(
    "Largest wasted paths",
    ["path", "size", "written by", "hidden by"],
    analysis.largestWasted.map((w) => [
      shown(w.path),
      size(w.size),
      `L${w.layer}`,
      `L${w.hiddenBy} (${w.how})`,
    ]),
  ) || "<p>No layer hides bytes of another.</p>"
}
<h2 id="repeated">Paths written by several layers</h2>
${
  htmlTable(
    "Paths written by several layers",
    ["path", "bytes written", "layers"],
    analysis.repeated.map((r) => [
      shown(r.path),
      size(r.bytes),
      r.layers.map((l) => `L${l}`).join(", "),
    ]),
  ) || "<p>No path is written twice.</p>"
}
</main></body></html>
`;
}
