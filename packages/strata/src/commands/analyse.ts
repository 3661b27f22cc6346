import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { analyseImage, type ImageAnalysis } from "@strata-oci/core";
import { TargetError } from "@strata-oci/errors";
import { replacedFile } from "@strata-oci/image";
import { isUtf8 } from "@strata-oci/layer";
import { analysisText } from "../cli/analysis-text.js";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource, JSON_FLAG, limitsOf, PLATFORM, REGISTRY, text } from "../cli/flags.js";
import { parseSize } from "../cli/limits-flags.js";
import { sizeText } from "../cli/output.js";
import { progressDisplay } from "../cli/progress.js";
import { printResult } from "../cli/result-json.js";
import { interruptibly } from "../cli/signals.js";
import { analysisHtml } from "../report/analysis-html.js";
import { MERGED_LIMITS } from "./merged-limits.js";

/** The status of an analysis that fails a --fail-* gate: not an error (1), not a usage (2). */
export const GATE_FAILED = 3;

export const analyseCommand: Command = {
  name: "analyse",
  aliases: ["analyze"],
  usage: ["strata analyse [options] IMAGE"],
  summary: "what each layer adds, changes, removes and wastes",
  description: `Show what each layer of IMAGE adds, changes and removes, the bytes it keeps
in the merged view and the bytes it wastes (files a later entry overwrites
or removes), the history step that made it, the largest wasted paths with
the layers that wrote and hid them, and the paths several layers wrote.
Read from the layers' headers alone (every blob read and verified, no file
body kept, nothing unpacked), from any source, a registry included.

Efficiency is kept bytes / the bytes all layers' files hold (1 = nothing
wasted). With --fail-wasted or --fail-efficiency the command exits with
status 3 when the image is past the threshold (after printing its report):
a CI job can gate a build on it. --html FILE writes one self-contained page
with the layers as bars and the merged view as a treemap. "strata analyze"
is the same command.`,
  flags: [
    JSON_FLAG,
    { name: "html", kind: "string", value: "FILE", help: "also write the report as an HTML page" },
    {
      name: "fail-wasted",
      kind: "string",
      value: "BYTES",
      help: "exit with status 3 when more bytes than this are wasted (64M, 1G: binary units)",
    },
    {
      name: "fail-efficiency",
      kind: "string",
      value: "RATIO",
      help: "exit with status 3 when the efficiency is below this (0 to 1, or a percentage: 95%)",
    },
    { name: "top", kind: "string", value: "N", help: "how many paths each list shows (20)" },
    PLATFORM,
    ...REGISTRY,
  ],
  sections: [MERGED_LIMITS],
  examples: [
    "strata analyse docker://debian:bookworm",
    "strata analyse --fail-efficiency 95% --html report.html oci:build:latest",
  ],
  async run({ values, positionals }) {
    const [image, extra] = positionals;
    if (image === undefined || extra !== undefined) throw new UsageError("analyse takes one IMAGE");
    const gates = gatesOf(values);
    const top = countOf(text(values, "top"));
    const html = text(values, "html");
    const progress = progressDisplay(values);
    const analysis = await interruptibly((signal) =>
      analyseImage({
        ...imageSource(image, values),
        signal,
        limits: limitsOf(values),
        ...(top === undefined ? {} : { top }),
        ...(progress.onProgress === undefined ? {} : { onProgress: progress.onProgress }),
      }),
    ).finally(progress.done);
    if (html !== undefined) writeReport(html, analysisHtml(analysis));
    const failed = failedGates(analysis, gates);
    if (values.json === true)
      printResult("analyse", analysis.image, analysisJson(analysis, failed));
    else if (values.quiet !== true) process.stdout.write(analysisText(analysis));
    for (const failure of failed) process.stderr.write(`strata: analyse: ${failure.message}\n`);
    return failed.length > 0 ? GATE_FAILED : 0;
  },
};

interface Gates {
  readonly wasted?: number;
  readonly efficiency?: number;
}

function gatesOf(values: Parameters<typeof text>[0]): Gates {
  const wasted = text(values, "fail-wasted");
  const efficiency = text(values, "fail-efficiency");
  let gates: Gates = {};
  if (wasted !== undefined) {
    try {
      gates = { ...gates, wasted: /^0+$/.test(wasted) ? 0 : parseSize(wasted) };
    } catch (error) {
      throw new UsageError(`--fail-wasted ${wasted}: ${(error as Error).message}`);
    }
  }
  if (efficiency !== undefined) {
    const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(efficiency);
    const ratio = match === null ? NaN : Number(match[1]) / (match[2] === "%" ? 100 : 1);
    if (!(ratio >= 0 && ratio <= 1))
      throw new UsageError(
        `--fail-efficiency ${efficiency}: give a ratio from 0 to 1, or 0% to 100%`,
      );
    gates = { ...gates, efficiency: ratio };
  }
  return gates;
}

function countOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value)) throw new UsageError(`--top ${value}: give a whole number`);
  return Number(value);
}

interface FailedGate {
  readonly gate: "wasted" | "efficiency";
  readonly limit: number;
  readonly value: number;
  readonly message: string;
}

function failedGates(analysis: ImageAnalysis, gates: Gates): FailedGate[] {
  const { wastedBytes, efficiency } = analysis.totals;
  const failed: FailedGate[] = [];
  if (gates.wasted !== undefined && wastedBytes > gates.wasted)
    failed.push({
      gate: "wasted",
      limit: gates.wasted,
      value: wastedBytes,
      message:
        `${sizeText(wastedBytes)} wasted, ` +
        `more than --fail-wasted allows (${sizeText(gates.wasted)})`,
    });
  if (gates.efficiency !== undefined && efficiency < gates.efficiency)
    failed.push({
      gate: "efficiency",
      limit: gates.efficiency,
      value: efficiency,
      message:
        `efficiency ${(efficiency * 100).toFixed(1)}%, below --fail-efficiency ` +
        `${(gates.efficiency * 100).toFixed(1)}%`,
    });
  return failed;
}

/** The result as JSON (schema: analyse): paths as strings from the root. */
function analysisJson(
  analysis: ImageAnalysis,
  failed: readonly FailedGate[],
): Record<string, unknown> {
  // As ls gives them: the bytes in base64 beside the path where they are not UTF-8.
  const shown = (path: Buffer): { path: string; pathBase64?: string } => ({
    path: `/${path.toString("utf8")}`,
    ...(isUtf8(path) ? {} : { pathBase64: path.toString("base64") }),
  });
  return {
    layers: analysis.layers.map((layer) => ({
      ...layer,
      digest: layer.digest ?? null,
      mediaType: layer.mediaType ?? null,
      createdBy: layer.createdBy ?? null,
    })),
    totals: analysis.totals,
    largestWasted: analysis.largestWasted.map((w) => ({ ...w, ...shown(w.path) })),
    repeated: analysis.repeated.map((r) => ({ ...r, ...shown(r.path) })),
    tree: analysis.tree,
    failed: failed.map(({ message: _message, ...gate }) => gate),
  };
}

/** The page written beside FILE and renamed over it: never half a report. */
function writeReport(given: string, page: string): void {
  const file = replacedFile(given, "the report");
  const temporary = join(dirname(resolve(file)), `.${basename(file)}.strata-${process.pid}`);
  try {
    writeFileSync(temporary, page);
    renameSync(temporary, file);
  } catch (cause) {
    rmSync(temporary, { force: true });
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new TargetError("STRATA_FS_ERROR", `cannot write the report ${file}: ${code}`, {
      hint: "give a file in a directory that exists and that you can write",
      cause,
    });
  }
}
