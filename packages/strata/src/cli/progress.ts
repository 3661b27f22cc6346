import type { DiffProgress } from "@strata-oci/build";
import type { PullProgress, UnpackProgress } from "@strata-oci/core";
import { sizeText } from "./output.js";

/** What the display shows: layers read, blobs copied, a diff's walk. */
export type DisplayedProgress =
  UnpackProgress | ({ readonly kind: "blob" } & PullProgress) | DiffProgress;

export interface ProgressDisplay {
  update(event: DisplayedProgress): void;
  /** Erases the terminal's line (before the command's own output, on the same terminal). */
  done(): void;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function layerName(event: { index: number; count: number; digest: string }): string {
  return `layer ${event.index + 1}/${event.count} ${event.digest.slice(0, 19)}`;
}

/**
 * A one-line progress display for a terminal (layers, bytes, entries),
 * redrawn at most ten times a second.
 */
export function terminalProgress(
  stream: Pick<NodeJS.WriteStream, "write" | "columns">,
): ProgressDisplay {
  let last = 0;
  let layer = "";
  let download = "";
  let drawn = false;
  const draw = (text: string, force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    // One row, whatever the terminal's width (80 where it says none): a line that wraps cannot
    // be redrawn in place.
    const width = Math.max(10, (stream.columns || 80) - 1);
    const shown = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    stream.write(`\r\x1b[K${shown}`);
    drawn = true;
  };
  return {
    update(event) {
      switch (event.kind) {
        case "image":
          break;
        case "layer-start":
          layer = layerName(event);
          draw(`${download}${layer} 0/${megabytes(event.size)}`, true);
          break;
        case "bytes":
          draw(
            `${download}${layer} ${megabytes(event.read)}/${megabytes(event.size)} ` +
              `${event.entries} entries`,
            false,
          );
          break;
        case "download":
          download =
            event.received < event.total
              ? `downloaded ${megabytes(event.received)}/${megabytes(event.total)} | `
              : "";
          draw(`${download}${layer || "waiting for layer 1"}`, false);
          break;
        case "blob":
          draw(
            `blob ${event.digest.slice(0, 19)} ${megabytes(event.bytes)}/` +
              `${megabytes(event.size)}`,
            event.bytes === event.size,
          );
          break;
        case "layer-done":
          draw(`${layer} done, ${event.entries} entries`, true);
          break;
        case "diff":
          draw(`diff: ${event.entries} entries compared`, false);
          break;
      }
    },
    done() {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}

/**
 * Progress where stderr is not a terminal (a log, a CI job): one line per finished step, a
 * layer read or a blob copied, so that a long command is not silent until its summary.
 */
export function stepLines(stream: Pick<NodeJS.WriteStream, "write">): ProgressDisplay {
  const started = new Map<number, { name: string; size: number }>();
  return {
    update(event) {
      if (event.kind === "layer-start") {
        started.set(event.index, { name: layerName(event), size: event.size });
      } else if (event.kind === "layer-done") {
        const layer = started.get(event.index);
        if (layer === undefined) return;
        const entries = event.entries === 1 ? "1 entry" : `${event.entries} entries`;
        stream.write(`strata: ${layer.name} read: ${sizeText(layer.size)}, ${entries}\n`);
      } else if (event.kind === "blob" && event.bytes === event.size) {
        stream.write(`strata: blob ${event.digest.slice(0, 19)} copied: ${sizeText(event.size)}\n`);
      }
    },
    done() {},
  };
}

/**
 * The command's progress on stderr: redrawn in place on a terminal, a line per finished step
 * elsewhere, none with --quiet or --json.
 */
export function progressDisplay(values: { readonly quiet?: unknown; readonly json?: unknown }): {
  onProgress?: (event: DisplayedProgress) => void;
  done: () => void;
} {
  if (values.quiet === true || values.json === true) return { done: () => {} };
  const display = process.stderr.isTTY
    ? terminalProgress(process.stderr)
    : stepLines(process.stderr);
  return { onProgress: (event) => display.update(event), done: () => display.done() };
}
