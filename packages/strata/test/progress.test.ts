// The progress line stays one row on any terminal width: a line that wraps
// cannot be redrawn in place (an 80-column terminal used to keep 14 stale
// rows of an 87-character line).
import { describe, expect, it } from "vitest";
import { terminalProgress } from "../src/cli/progress.js";

function screen(columns: number): {
  lines: string[];
  stream: { columns: number; write(text: string): boolean };
} {
  const lines: string[] = [];
  return {
    lines,
    stream: {
      columns,
      write(text: string) {
        lines.push(text.replace(/^\r\x1b\[K/, ""));
        return true;
      },
    },
  };
}

describe("terminal progress", () => {
  it.each([40, 80, 120])("every line fits %i columns", (columns) => {
    const { lines, stream } = screen(columns);
    const progress = terminalProgress(stream as unknown as NodeJS.WriteStream);
    const digest = `sha256:${"ab".repeat(32)}`;
    progress.update({ kind: "download", received: 12_345_678, total: 63_000_000 });
    progress.update({ kind: "layer-start", index: 0, count: 3, digest, size: 63_000_000 });
    progress.update({ kind: "layer-done", index: 0, entries: 6680 });
    progress.update({ kind: "blob", digest, bytes: 63_000_000, size: 63_000_000 });
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length, line).toBeLessThan(columns);
    expect(lines.some((line) => line.endsWith("…"))).toBe(columns < 80);
  });
});
