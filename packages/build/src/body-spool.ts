// Export reads each layer once: the pass that builds the merged tree keeps every file's bytes in
// a private temporary file, and the tar is then written from there. Reading each layer a second
// time for the survivors' bytes cost a second inflate and a second verification of every byte
// (Debian minbase: 1.6 s against 0.7 s for tar -c | igzip of the unpacked tree). The file is
// unlinked as soon as it is open: nothing is left behind, even by a killed run.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TargetError } from "@strata-oci/errors";
import type { EntryBody, LayerEntry } from "@strata-oci/layer";

export class BodySpool {
  readonly #fd: number;
  #end = 0;
  /** Per layer, by the entry's ordinal in it: where its bytes start in the file (files only). */
  readonly #offsets: Float64Array[] = [];

  private constructor(fd: number) {
    this.#fd = fd;
  }

  static open(): BodySpool {
    let directory: string;
    try {
      directory = mkdtempSync(join(tmpdir(), "strata-export-"));
    } catch (cause) {
      throw spoolError(cause);
    }
    try {
      const file = join(directory, "bodies");
      const fd = openSync(file, "wx+", 0o600);
      unlinkSync(file);
      return new BodySpool(fd);
    } catch (cause) {
      throw spoolError(cause);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }

  /** Layer `index`'s entries passed on, each file's bytes kept as they pass. */
  async *keep(index: number, entries: AsyncIterable<LayerEntry>): AsyncIterable<LayerEntry> {
    let offsets = new Float64Array(1024);
    this.#offsets[index] = offsets;
    let ordinal = 0;
    for await (const entry of entries) {
      if (entry.kind === "file") {
        if (ordinal >= offsets.length) {
          const grown = new Float64Array(offsets.length * 2);
          grown.set(offsets);
          offsets = grown;
          this.#offsets[index] = offsets;
        }
        offsets[ordinal] = this.#end;
        const rest = this.#write(entry.body);
        if (rest !== undefined) await rest;
      }
      ordinal++;
      yield entry;
    }
  }

  /** Where the bytes of entry `ordinal` of layer `layer` (a file) start. */
  offsetOf(layer: number, ordinal: number): number {
    const offset = this.#offsets[layer]?.[ordinal];
    if (offset === undefined) throw new Error(`unreachable: no bytes kept for ${layer}/${ordinal}`);
    return offset;
  }

  /** Fills `into` with the bytes from `offset` on. */
  read(into: Buffer, offset: number): void {
    for (let at = 0; at < into.length;) {
      const n = readSync(this.#fd, into, at, into.length - at, offset + at);
      if (n === 0) throw new Error("unreachable: the spool ended early");
      at += n;
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  /** Synchronous while the bytes are in hand (most files), as the disk target writes a file. */
  #write(body: EntryBody): Promise<void> | undefined {
    const available = body.readAvailable;
    if (available !== undefined)
      for (let chunk = available(); chunk !== null; chunk = available()) {
        if (chunk === undefined) return this.#writeRest(body);
        this.#append(chunk);
      }
    else return this.#writeRest(body);
    return undefined;
  }

  async #writeRest(body: EntryBody): Promise<void> {
    for await (const chunk of body) this.#append(chunk);
  }

  #append(chunk: Buffer): void {
    try {
      for (let at = 0; at < chunk.length;)
        at += writeSync(this.#fd, chunk, at, chunk.length - at, this.#end + at);
    } catch (cause) {
      throw spoolError(cause);
    }
    this.#end += chunk.length;
  }
}

function spoolError(cause: unknown): TargetError {
  const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
  return new TargetError("STRATA_FS_ERROR", `cannot keep file bytes in ${tmpdir()}: ${code}`, {
    hint:
      "export keeps the layers' file bytes in a temporary file while it reads them: " +
      "set TMPDIR to a writable directory with room for the image's files",
    cause,
  });
}
