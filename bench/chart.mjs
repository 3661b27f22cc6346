// Draws bench/out/results.json as an SVG bar chart: median wall time per
// tool for each image, and the throughput (compressed MB/s) above each bar.
//   node bench/chart.mjs [results.json] [out.svg]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = join(import.meta.dirname, "out");
const parsed = JSON.parse(readFileSync(process.argv[2] ?? join(out, "results.json"), "utf8"));
// Older files hold the array alone.
const results = Array.isArray(parsed) ? parsed : parsed.results;
const target = process.argv[3] ?? join(out, "results.svg");
const tools = [...new Set(results.flatMap((r) => Object.keys(r.medians)))];
const colors = { strata: "#2b7bb9", "tar -xzf": "#999999", umoci: "#d9822b" };
const W = 760,
  H = 360,
  left = 60,
  bottom = 60,
  top = 40;
const max = Math.max(...results.flatMap((r) => Object.values(r.medians)));
const groupW = (W - left - 20) / results.length;
const barW = Math.min(60, (groupW - 20) / tools.length);
const y = (v) => top + (H - top - bottom) * (1 - v / max);
/** A short label: "img-30000:bench" rather than the whole reference. */
const label = (name) => name.replace(/^oci:.*\//, "");
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
const where = Array.isArray(parsed)
  ? ""
  : ` on ${parsed.filesystem === "tmpfs" ? "tmpfs" : "ext4"}`;
const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" ` +
    `width="${W}" height="${H}" font-family="sans-serif" ` +
    `font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Unpack ` +
    `wall time${where}, median of rounds ` +
    `(lower is better); MB/s of compressed image above bars</text>`,
];
for (let t = 0; t <= 4; t++) {
  const v = (max * t) / 4;
  parts.push(
    `<line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
    `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)} s</text>`,
  );
}
results.forEach((r, g) => {
  const x0 = left + g * groupW + (groupW - barW * tools.length) / 2;
  tools.forEach((tool, i) => {
    const v = r.medians[tool];
    if (v === undefined) return;
    const x = x0 + i * barW;
    parts.push(
      `<rect x="${x}" y="${y(v)}" width="${barW - 4}" height="${H - bottom - y(v)}" fill="` +
        `${colors[tool] ?? "#555"}"/>`,
    );
    parts.push(
      `<text x="${x + (barW - 4) / 2}" y="${y(v) - 4}" text-anchor="middle" ` +
        `font-size="10">${(r.compressedBytes / 1e6 / v).toFixed(0)}</text>`,
    );
  });
  parts.push(
    `<text x="${left + g * groupW + groupW / 2}" y="${H - bottom + 18}" text-anchor="middle">` +
      `${esc(label(r.image))}</text>`,
  );
  parts.push(
    `<text x="${left + g * groupW + groupW / 2}" y="` +
      `${H - bottom + 34}" text-anchor="middle" fill="#666">` +
      `${(r.compressedBytes / 1e6).toFixed(0)} MB gz</text>`,
  );
});
tools.forEach((tool, i) => {
  parts.push(
    `<rect x="${left + i * 110}" y="${H - 14}" width="10" height="10" fill="` +
      `${colors[tool] ?? "#555"}"/>`,
    `<text x="${left + i * 110 + 14}" y="${H - 5}">${esc(tool)}</text>`,
  );
});
parts.push("</svg>");
writeFileSync(target, parts.join("\n"));
console.log(`wrote ${target}`);
