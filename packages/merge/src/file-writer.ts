// A file's bytes and attributes, written to its open descriptor by the disk
// target: synchronously while its bytes are in hand, awaited only when not.
import { closeSync, futimesSync, writeSync } from "node:fs";
import type { EntryAttributes, EntryBody } from "@strata-oci/layer";
import { fsTime, type AttributeWriter } from "./attribute-writer.js";

export class FileWriter {
  constructor(
    readonly attributes: AttributeWriter,
    /** Where the bytes written are counted. */
    readonly stats: { bytes: number },
  ) {}

  /**
   * Writes a file's data and attributes and closes it. Synchronous (returns
   * undefined) when the body's bytes are all in hand, as they are for most
   * files: a promise per file was a measurable share of the main thread.
   */
  write(
    fd: number,
    abs: Buffer,
    parentSetgid: boolean,
    entry: EntryAttributes,
    body: EntryBody | Iterable<Buffer>,
  ): Promise<void> | undefined {
    let waiting = false;
    try {
      const readAvailable = "readAvailable" in body ? body.readAvailable : undefined;
      if (readAvailable !== undefined) {
        for (let chunk = readAvailable(); chunk !== null; chunk = readAvailable()) {
          if (chunk === undefined) {
            waiting = true;
            return this.#writeRest(fd, abs, parentSetgid, entry, body);
          }
          this.#writeChunk(fd, chunk);
        }
        this.#finishFile(fd, abs, parentSetgid, entry);
        return undefined;
      }
      waiting = true;
      return this.#writeRest(fd, abs, parentSetgid, entry, body);
    } finally {
      if (!waiting) closeSync(fd);
    }
  }

  /** The rest of a file whose bytes must be awaited; closes it. */
  async #writeRest(
    fd: number,
    abs: Buffer,
    parentSetgid: boolean,
    entry: EntryAttributes,
    body: AsyncIterable<Buffer> | Iterable<Buffer>,
  ): Promise<void> {
    try {
      for await (const chunk of body) this.#writeChunk(fd, chunk);
      this.#finishFile(fd, abs, parentSetgid, entry);
    } finally {
      closeSync(fd);
    }
  }

  #writeChunk(fd: number, chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) offset += writeSync(fd, chunk, offset);
    this.stats.bytes += chunk.length;
  }

  #finishFile(fd: number, abs: Buffer, parentSetgid: boolean, entry: EntryAttributes): void {
    this.attributes.fileOwnerAndMode(fd, entry, parentSetgid);
    this.attributes.xattrs(abs, entry, "file", false);
    futimesSync(fd, fsTime(entry.mtime), fsTime(entry.mtime));
  }
}
