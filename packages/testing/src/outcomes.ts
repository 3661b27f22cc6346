import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import {
  readLayer,
  writeTar,
  type Layer,
  type LayerEntry,
  type TarMember,
} from "@strata-oci/layer";
import { DiskTarget, MergedTree, type OwnershipPolicy } from "@strata-oci/merge";
import { ReferenceModel } from "./model.js";
import {
  diffSnapshots,
  snapshotDisk,
  snapshotMerged,
  snapshotModel,
  type TreeSnapshot,
} from "./tree-snapshot.js";

export function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** A layer held in memory, served in chunks of `chunkSize` bytes. */
export function memoryLayer(
  tar: Buffer,
  options: {
    compression?: "none" | "gzip";
    chunkSize?: number;
    mediaType?: string;
    blob?: Buffer;
  } = {},
): Layer {
  const compression = options.compression ?? "gzip";
  const blob = options.blob ?? (compression === "gzip" ? gzipSync(tar) : tar);
  const chunkSize = options.chunkSize ?? 1 << 20;
  return {
    digest: sha256(blob),
    size: blob.length,
    mediaType:
      options.mediaType ??
      (compression === "gzip"
        ? "application/vnd.oci.image.layer.v1.tar+gzip"
        : "application/vnd.oci.image.layer.v1.tar"),
    diffId: sha256(tar),
    open: async () => {
      const parts: Buffer[] = [];
      for (let i = 0; i < blob.length; i += chunkSize) parts.push(blob.subarray(i, i + chunkSize));
      return Readable.from(parts, { objectMode: false });
    },
  };
}

/**
 * The same layer with its blob stored in a file at `path`, so that readLayer
 * reads it on the worker thread (as it does for OCI layouts and archives).
 * Fields overridden on `layer` (a lying size or digest) are kept.
 */
export async function fileLayer(layer: Layer, path: string): Promise<Layer> {
  const parts: Buffer[] = [];
  for await (const part of await layer.open()) parts.push(Buffer.from(part as Buffer));
  writeFileSync(path, Buffer.concat(parts));
  return { ...layer, locate: async () => ({ path, start: 0, end: undefined }) };
}

/** Makes a private temporary directory, removed by the returned function. */
export function tempDir(prefix = "strata-test-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const PRIVILEGED: OwnershipPolicy = { privileged: true, uid: 0, gid: 0 };

/** What applying a stack gave: the tree, or the StrataError code it ended in. */
export type Outcome = { ok: true; snapshot: TreeSnapshot } | { ok: false; code: string };

/** A layer as tests give it: tar members, or a tar a producer wrote (uncompressed). */
export type LayerInput = readonly TarMember[] | Buffer;

function tarOf(layer: LayerInput): Buffer {
  return Buffer.isBuffer(layer) ? layer : writeTar(layer as readonly TarMember[]);
}

/**
 * The differences between two outcomes (empty when both made the same tree, or both failed with the
 * same code).
 */
export function sameOutcome(a: Outcome, b: Outcome): string[] {
  if (a.ok && b.ok) return diffSnapshots(a.snapshot, b.snapshot);
  if (!a.ok && !b.ok) return a.code === b.code ? [] : [`${a.code} vs ${b.code}`];
  return [
    `one failed: ${JSON.stringify(a.ok ? "ok" : a.code)} vs ` +
      `${JSON.stringify(b.ok ? "ok" : b.code)}`,
  ];
}

async function outcome(run: () => Promise<TreeSnapshot>): Promise<Outcome> {
  try {
    return { ok: true, snapshot: await run() };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (typeof code !== "string" || !code.startsWith("STRATA_")) throw error;
    return { ok: false, code };
  }
}

/** Applies layers (each a member list) to the reference model. */
export async function modelOutcome(
  layers: readonly LayerInput[],
  policy: OwnershipPolicy = PRIVILEGED,
): Promise<Outcome> {
  return outcome(async () => {
    const model = new ReferenceModel(policy);
    for (const members of layers) await model.applyLayer(readLayer(memoryLayer(tarOf(members))));
    return snapshotModel(model);
  });
}

/**
 * Applies layers to the merged-tree index (headers only) and snapshots it,
 * each file's bytes taken from the entry its source (layer, ordinal) names:
 * what `strata cat` reads back.
 */
export async function mergedOutcome(layers: readonly LayerInput[]): Promise<Outcome> {
  return outcome(async () => {
    const tree = new MergedTree();
    const bodies: Buffer[][] = [];
    for (const members of layers) {
      const layer = memoryLayer(tarOf(members));
      await tree.applyLayer(readLayer(layer));
      // The bytes of each entry, by ordinal, read separately (the tree never holds them).
      const byOrdinal: Buffer[] = [];
      for await (const entry of readLayer(layer)) {
        const parts: Buffer[] = [];
        if (entry.kind === "file")
          for await (const part of entry.body) parts.push(Buffer.from(part));
        byOrdinal.push(Buffer.concat(parts));
      }
      bodies.push(byOrdinal);
    }
    tree.finish();
    return snapshotMerged(tree, (entry) => bodies[entry.layer]?.[entry.ordinal] ?? Buffer.alloc(0));
  });
}

/**
 * Applies layers to a fresh directory on disk (through gzip blobs and the
 * real reader). Blobs are read from files on the worker thread, as `unpack`
 * reads them; with `chunkSize` they are streamed from memory on this thread instead.
 */
export async function diskOutcome(
  layers: readonly LayerInput[],
  policy: OwnershipPolicy = PRIVILEGED,
  options: { chunkSize?: number; compression?: "none" | "gzip" } = {},
): Promise<Outcome> {
  const dir = tempDir();
  try {
    return await outcome(async () => {
      await applyToDirectory(dir.path, layers, policy, options);
      return snapshotDisk(dir.path);
    });
  } finally {
    dir.remove();
  }
}

/**
 * Applies layers to the directory `dir` (existing, empty) as unpack does,
 * and leaves the tree there: for tests that work on the trees themselves
 * (diff, repack). Throws the StrataError that a refused stack ends in.
 */
export async function applyToDirectory(
  dir: string,
  layers: readonly LayerInput[],
  policy: OwnershipPolicy = PRIVILEGED,
  options: { chunkSize?: number; compression?: "none" | "gzip" } = {},
): Promise<void> {
  const blobs = tempDir("strata-blobs-");
  try {
    const target = new DiskTarget(dir, { policy });
    for (const [index, members] of layers.entries()) {
      const inMemory = memoryLayer(tarOf(members), options);
      const layer =
        options.chunkSize === undefined
          ? await fileLayer(inMemory, join(blobs.path, `layer-${index}`))
          : inMemory;
      await target.applyLayer(readLayer(layer, { transientChunks: true }));
    }
    target.finish();
  } finally {
    blobs.remove();
  }
}

/** Entries of a layer, as the model sees them (for direct model tests). */
export async function entriesOf(members: readonly TarMember[]): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const entry of readLayer(memoryLayer(writeTar(members)))) out.push(entry);
  return out;
}
