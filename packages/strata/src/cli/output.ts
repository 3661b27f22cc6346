// What commands write to stdout: long listings a piece at a time, and tar
// streams to a file (under a temporary name until complete) or to stdout,
// never into what the command reads.
import {
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TargetError } from "@strata-oci/errors";
import { parseImageReference, replacedFile } from "@strata-oci/image";
import { EventLoopTurns } from "@strata-oci/layer";
import { pipeClosed, stdoutDrained } from "./closed-pipe.js";
import { UsageError } from "./command.js";

export function* mappedText<T>(items: Iterable<T>, text: (item: T) => string): Generator<string> {
  for (const item of items) yield text(item);
}

/**
 * `JSON.stringify(items, null, 2)`, an item at a time, as it sits `pad` deep in a document (no
 * newline after it).
 */
export function* jsonArray(items: Iterable<unknown>, pad = ""): Generator<string> {
  let first = true;
  for (const item of items) {
    const text = JSON.stringify(item, null, 2).replace(/\n/g, `\n${pad}  `);
    yield `${first ? "[" : ","}\n${pad}  ${text}`;
    first = false;
  }
  yield first ? "[]" : `\n${pad}]`;
}

/** `JSON.stringify({ ...fields, [name]: items }, null, 2)` and a newline, an item at a time. */
export function* jsonWithList(
  fields: object,
  name: string,
  items: Iterable<unknown>,
): Generator<string> {
  const opening = JSON.stringify(fields, null, 2);
  yield `${opening.slice(0, -2)},\n  ${JSON.stringify(name)}: `;
  yield* jsonArray(items, "  ");
  yield "\n}\n";
}

/** Writes `parts` to stdout in pieces of about 64 KiB, waiting whenever the pipe is full. */
export async function writeOut(parts: Iterable<string>): Promise<void> {
  let piece = "";
  for (const part of parts) {
    if (pipeClosed()) return;
    piece += part;
    if (piece.length < 65536) continue;
    if (!process.stdout.write(piece)) await stdoutDrained();
    piece = "";
  }
  if (piece !== "" && !pipeClosed()) process.stdout.write(piece);
}

/**
 * `path` as the kernel names it, as far as it exists (a file not made yet: its directory's real
 * path and its name).
 */
function realOrPlanned(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(resolve(path));
    return parent === resolve(path) ? parent : join(realOrPlanned(parent), basename(resolve(path)));
  }
}

/** The files and directories an IMAGE argument reads (none for a registry). */
export function imageFiles(image: string): string[] {
  try {
    return [...parseImageReference(image).files];
  } catch {
    return [];
  }
}

/**
 * Refuses an output that is, or lies inside, something the command reads:
 * the image's own blob would be destroyed (export -o onto it), UPPER's own
 * layer would go into itself (diff -o UPPER/out.tar).
 */
function refuseOutputInside(output: string, reads: readonly string[]): void {
  const target = realOrPlanned(output);
  for (const read of reads) {
    const real = realOrPlanned(read);
    if (target === real || target.startsWith(`${real}/`)) {
      throw new TargetError(
        "STRATA_BAD_DESTINATION",
        `the output ${output} lies inside ${read}, which this command reads`,
        {
          hint:
            "write the tar somewhere else (it would be read while written, or overwrite " +
            "what it is made from)",
        },
      );
    }
  }
}

/** stdout's stats when it is a regular file (redirected into one). */
export function stdoutFile(): ReturnType<typeof fstatSync> | undefined {
  try {
    const stats = fstatSync(1);
    return stats.isFile() ? stats : undefined;
  } catch {
    return undefined;
  }
}

/**
 * stdout redirected into a file the command reads (an image's blob): refused before a byte is
 * written.
 */
export function refuseStdoutInto(output: string, reads: readonly string[]): void {
  if (output !== "-") return;
  const out = stdoutFile();
  if (out === undefined) return;
  for (const read of reads) {
    const files =
      statSync(read, { throwIfNoEntry: false })?.isDirectory() === true
        ? readdirSync(read, { recursive: true, encoding: "utf8" }).map((name) => join(read, name))
        : [read];
    for (const file of files) {
      const stats = lstatSync(file, { throwIfNoEntry: false });
      if (stats !== undefined && stats.ino === out.ino && stats.dev === out.dev) {
        throw new TargetError(
          "STRATA_BAD_DESTINATION",
          `stdout is ${file}, which this command reads`,
          { hint: "redirect the tar somewhere else" },
        );
      }
    }
  }
}

/**
 * Writes a tar stream to FILE (under a temporary name, renamed when complete) or, for "-", to
 * stdout. To a FILE each chunk is written before the next is asked for; `lent`: the source lends
 * its chunks (export's transientChunks), so stdout gets copies.
 */
export async function writeTarOutput(
  output: string,
  chunks: AsyncIterable<Buffer>,
  reads: readonly string[] = [],
  lent = false,
): Promise<void> {
  if (output === "-" && process.stdout.isTTY)
    throw new UsageError("not writing a tar to a terminal: redirect stdout, or give -o FILE");
  if (output === "-") {
    if (lent) await writeLentToStdout(chunks);
    else
      await pipeline(Readable.from(chunks, { objectMode: false }), process.stdout, { end: false });
    return;
  }
  // Through a symlink, the file it names; a device, FIFO or directory is refused.
  const target = replacedFile(output, "the tar");
  refuseOutputInside(target, reads);
  const temporary = `${target}.strata-${process.pid}.tmp`;
  // The file's own failures (a full disk, a directory that is not there) are the user's to fix:
  // typed, never an internal error; the source's errors pass as they are.
  const onFile = <T>(step: () => T): T => {
    try {
      return step();
    } catch (error) {
      throw outputError(error, output);
    }
  };
  try {
    const fd = onFile(() => openSync(temporary, "wx", 0o666));
    // Synchronous writes from a source that never waits (diff's walk) would keep the event loop,
    // and SIGINT with it, from running until the end.
    const turns = new EventLoopTurns();
    try {
      for await (const chunk of chunks) {
        onFile(() => {
          for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
        });
        const turn = turns.due();
        if (turn !== undefined) await turn;
      }
    } finally {
      closeSync(fd);
    }
    onFile(() => renameSync(temporary, target));
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** A system error writing FILE as a TargetError; anything else as it is. */
function outputError(error: unknown, output: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return error;
  return writeError(error as NodeJS.ErrnoException, output, {
    full: "free space where FILE goes, or write it elsewhere; no partial file was left",
    other: "give a FILE in a directory that exists and that you can write",
  });
}

/**
 * A write that failed (FILE, stdout) as the user's to fix: STRATA_NO_SPACE for a full disk or
 * quota, else STRATA_FS_ERROR; the hint for each.
 */
export function writeError(
  failed: NodeJS.ErrnoException,
  place: string,
  hints: { readonly full: string; readonly other: string },
): TargetError {
  const full = failed.code === "ENOSPC" || failed.code === "EDQUOT";
  return new TargetError(
    full ? "STRATA_NO_SPACE" : "STRATA_FS_ERROR",
    `cannot write ${place}: ${failed.code ?? failed.message}`,
    { hint: full ? hints.full : hints.other, cause: failed },
  );
}

/** Chunks in flight to stdout at most: a bound on memory, and on copies not yet reused. */
const STDOUT_BUFFERS = 4;

/**
 * Lent chunks to stdout: each copied into one of a few buffers, used again once stdout has
 * written it. New buffers per chunk, left to the collector, were ~20 MB of a piped export's peak.
 */
async function writeLentToStdout(chunks: AsyncIterable<Buffer>): Promise<void> {
  const spare: Buffer[] = [];
  let inFlight = 0;
  let failure: Error | undefined;
  let written: (() => void) | undefined;
  const settled = async (most: number): Promise<void> => {
    while (inFlight > most && failure === undefined)
      await new Promise<void>((resolve) => (written = resolve));
    if (failure !== undefined) throw failure;
  };
  for await (const chunk of chunks) {
    await settled(STDOUT_BUFFERS - 1);
    const buffer = spare.pop() ?? Buffer.allocUnsafe(Math.max(chunk.length, 1 << 20));
    const copy = buffer.length >= chunk.length ? buffer : Buffer.allocUnsafe(chunk.length);
    chunk.copy(copy);
    inFlight++;
    process.stdout.write(copy.subarray(0, chunk.length), (error) => {
      inFlight--;
      if (error !== null && error !== undefined) failure ??= error;
      else spare.push(copy);
      written?.();
    });
  }
  await settled(0);
}

/** `1 layer`, `3 layers`: a count with its noun, singular where it is one. */
export function counted(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}

/**
 * Bytes for people: `512 bytes`, `3.4 kB`, `63.1 MB`, `1.4 GB` (powers of 1000, as du -h --si);
 * `512 B` with `short` (a page's tables).
 */
export function sizeText(bytes: number, short = false): string {
  if (bytes < 1000) return short ? `${bytes} B` : counted(bytes, "byte");
  const [value, unit] =
    bytes < 1e6 ? [bytes / 1e3, "kB"] : bytes < 1e9 ? [bytes / 1e6, "MB"] : [bytes / 1e9, "GB"];
  return `${value.toFixed(1)} ${unit}`;
}
