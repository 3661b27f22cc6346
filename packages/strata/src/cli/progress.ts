import type { PullProgress, UnpackProgress } from "@strata-oci/core";

/** What the display shows: an unpack's events, or a pull's blob downloads. */
export type DisplayedProgress = UnpackProgress | ({ readonly kind: "blob" } & PullProgress);

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * A one-line progress display for a terminal (layers, bytes, entries),
 * redrawn at most ten times a second.
 */
export function terminalProgress(stream: Pick<NodeJS.WriteStream, "write" | "columns">): {
  update: (event: DisplayedProgress) => void;
  done: () => void;
} {
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
          layer = `layer ${event.index + 1}/${event.count} ${event.digest.slice(0, 19)}`;
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
      }
    },
    done() {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}

/**
 * A progress display on stderr where it is a terminal and the command is not --quiet or --json;
 * `done` clears it (before the command's own output, on the same terminal).
 */
export function progressOnTerminal(values: { readonly quiet?: unknown; readonly json?: unknown }): {
  onProgress?: (event: DisplayedProgress) => void;
  done: () => void;
} {
  if (!process.stderr.isTTY || values.quiet === true || values.json === true)
    return { done: () => {} };
  const display = terminalProgress(process.stderr);
  return { onProgress: (event) => display.update(event), done: () => display.done() };
}
