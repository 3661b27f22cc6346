// Storing a blob that is being made (squash's and repack's new layer): its
// digest is known only at its end. A layout takes it as it passes
// (putNewBlob); a registry or an archive needs the digest first (the PUT
// names it, the archive's member is named by it), so the bytes are spooled to
// a private temporary file, hashed on the way, then put as any blob is.
import { createHash } from "node:crypto";
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TargetError } from "@strata-oci/errors";
import type { Descriptor } from "./descriptor.js";
import type { ImageDestination } from "./destination.js";

export async function putNewBlob(
  destination: ImageDestination,
  chunks: AsyncIterable<Buffer>,
  mediaType: string,
): Promise<Descriptor> {
  const stored =
    destination.putNewBlob !== undefined
      ? await destination.putNewBlob(chunks)
      : await spooled(destination, chunks, mediaType);
  return { mediaType, ...stored, annotations: {}, platform: undefined };
}

async function spooled(
  destination: ImageDestination,
  chunks: AsyncIterable<Buffer>,
  mediaType: string,
): Promise<{ digest: string; size: number }> {
  const directory = spoolDirectory();
  const remove = (): void => rmSync(directory, { recursive: true, force: true });
  process.once("exit", remove);
  try {
    const file = join(directory, "blob");
    const hash = createHash("sha256");
    let size = 0;
    const fd = openSync(file, "wx", 0o600);
    try {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
      }
    } finally {
      closeSync(fd);
    }
    const descriptor: Descriptor = {
      mediaType,
      digest: `sha256:${hash.digest("hex")}`,
      size,
      annotations: {},
      platform: undefined,
    };
    if (!(await destination.hasBlob(descriptor)))
      await destination.putBlob(descriptor, {
        size,
        open: async () => createReadStream(file, { highWaterMark: 1 << 20 }),
      });
    return { digest: descriptor.digest, size };
  } finally {
    remove();
    process.off("exit", remove);
  }
}

function spoolDirectory(): string {
  try {
    return mkdtempSync(join(tmpdir(), "strata-blob-"));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new TargetError(
      "STRATA_FS_ERROR",
      `cannot make a temporary file in ${tmpdir()}: ${code}`,
      {
        hint:
          "a new layer going to a registry or an archive is spooled there first: " +
          "set TMPDIR to a writable directory with room for it",
        cause,
      },
    );
  }
}
