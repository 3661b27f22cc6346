// The store's own files, read back as validated values. A record is data
// that a damaged disk, a killed writer or another process may have changed:
// every field is checked before strata acts on it, and every name strata
// acts on (a layer's directory, a mount's directory) is derived from a
// digest or from the record's own file name, never taken from its content.
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { TargetError } from "@strata-oci/errors";

/** A store's settings (store.json). */
export interface StoreConfig {
  readonly version: 1;
  readonly rootless: boolean;
}

export interface StoredLayer {
  readonly chainId: string;
  readonly diffId: string;
  readonly parent: string | undefined;
  /** The short name under STORE/l used in mount options. */
  readonly link: string;
  readonly entries: number;
  readonly bytes: number;
  readonly whiteouts: number;
  readonly opaque: number;
  readonly copiedUp: number;
}

export interface StoredImage {
  readonly reference: string;
  /** `os/arch[/variant]` of the manifest kept: one record per reference and platform. */
  readonly platform: string;
  readonly manifest: string | undefined;
  readonly config: string | undefined;
  /** Chain IDs, layer 0 first. */
  readonly chainIds: readonly string[];
}

/** A mount strata made from the store (read-only, or writable with mounts/<id>/{upper,work}). */
export interface MountRecord {
  readonly id: string;
  readonly target: string;
  readonly reference: string;
  readonly writable: boolean;
  readonly chainIds: readonly string[];
}

/** Records are small: a layer's or a mount's a few hundred bytes, an image's a line per layer. */
const MAX_RECORD_BYTES = 1 << 20;
const MAX_LAYERS = 4096;
/** Short links and mount ids: 9 random bytes in base64url. */
export const SHORT_NAME = /^[A-Za-z0-9_-]{12}$/;
const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

export function newShortName(): string {
  return randomBytes(9).toString("base64url");
}

/** The error for a record that is not what strata wrote. */
export function damaged(file: string, detail: string): TargetError {
  return new TargetError("STRATA_STORE_DAMAGED", `${file} is damaged: ${detail}`, {
    hint:
      "the store was changed by something other than strata; remove the damaged record " +
      "(or the whole layer directory) and run the command again",
  });
}

/**
 * A record file's JSON: opened without following a symlink or blocking on a
 * FIFO, a regular file owned by this user and at most 1 MiB.
 */
export function readRecordJson(file: string): Record<string, unknown> | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw damaged(
      file,
      code === "ELOOP" ? "a symlink, not a record" : `unreadable (${code ?? String(error)})`,
    );
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw damaged(file, "not a regular file");
    if (stats.uid !== (process.geteuid?.() ?? stats.uid))
      throw damaged(file, `owned by uid ${stats.uid}, not by this user`);
    if (stats.size > MAX_RECORD_BYTES)
      throw damaged(file, `${stats.size} bytes, more than a record holds`);
    const data = Buffer.alloc(stats.size);
    let done = 0;
    for (let n; done < data.length && (n = readSync(fd, data, done, data.length - done, done)) > 0;)
      done += n;
    let json: unknown;
    try {
      json = JSON.parse(data.subarray(0, done).toString("utf8"));
    } catch {
      throw damaged(file, "not JSON (truncated?)");
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw damaged(file, "not a JSON object");
    return json as Record<string, unknown>;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `value` to `file` by a rename: a reader sees the old record or the new one, never half.
 */
export function writeRecord(file: string, value: unknown): void {
  const temp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`, { flag: "wx", mode: 0o600 });
  renameSync(temp, file);
}

/** Field checks: each throws STRATA_STORE_DAMAGED naming the file and the field. */
class Fields {
  constructor(
    readonly file: string,
    readonly json: Record<string, unknown>,
  ) {}

  digest(key: string): string {
    const value = this.json[key];
    if (typeof value !== "string" || !DIGEST.test(value))
      throw damaged(this.file, `${key} is not a digest`);
    return value;
  }

  optionalDigest(key: string): string | undefined {
    return this.json[key] === undefined || this.json[key] === null ? undefined : this.digest(key);
  }

  count(key: string): number {
    const value = this.json[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
      throw damaged(this.file, `${key} is not a count`);
    return value;
  }

  text(key: string, max = 8192): string {
    const value = this.json[key];
    if (typeof value !== "string" || value === "" || value.length > max || value.includes("\0"))
      throw damaged(this.file, `${key} is not a name`);
    return value;
  }

  boolean(key: string): boolean {
    const value = this.json[key];
    if (typeof value !== "boolean") throw damaged(this.file, `${key} is not true or false`);
    return value;
  }

  digests(key: string): string[] {
    const value = this.json[key];
    if (
      !Array.isArray(value) ||
      value.length > MAX_LAYERS ||
      !value.every((d) => typeof d === "string" && DIGEST.test(d))
    ) {
      throw damaged(this.file, `${key} is not a list of digests`);
    }
    return value as string[];
  }
}

export function parseStoreConfig(file: string, json: Record<string, unknown>): StoreConfig {
  const fields = new Fields(file, json);
  if (json.version !== 1) throw damaged(file, "not a layer store's settings (version 1)");
  return { version: 1, rootless: fields.boolean("rootless") };
}

/** A layer record, which must be the record of `chainId` (the name of its directory). */
export function parseLayerRecord(
  file: string,
  json: Record<string, unknown>,
  chainId: string,
): StoredLayer {
  const fields = new Fields(file, json);
  if (fields.digest("chainId") !== chainId)
    throw damaged(file, `it names another layer than ${chainId}`);
  const link = fields.text("link");
  if (!SHORT_NAME.test(link)) throw damaged(file, "link is not a short name strata makes");
  return {
    chainId,
    diffId: fields.digest("diffId"),
    parent: fields.optionalDigest("parent"),
    link,
    entries: fields.count("entries"),
    bytes: fields.count("bytes"),
    whiteouts: fields.count("whiteouts"),
    opaque: fields.count("opaque"),
    copiedUp: fields.count("copiedUp"),
  };
}

export function parseImageRecord(file: string, json: Record<string, unknown>): StoredImage {
  const fields = new Fields(file, json);
  return {
    reference: fields.text("reference"),
    // Kept before platforms were recorded (the first store format): matched by reference alone.
    platform: json.platform === undefined ? "" : fields.text("platform", 256),
    manifest: fields.optionalDigest("manifest"),
    config: fields.optionalDigest("config"),
    chainIds: fields.digests("chainIds"),
  };
}

/** A mount record, whose id is its file's name (never a path read from it). */
export function parseMountRecord(
  file: string,
  json: Record<string, unknown>,
  id: string,
): MountRecord {
  const fields = new Fields(file, json);
  const target = fields.text("target");
  if (!target.startsWith("/")) throw damaged(file, "target is not an absolute path");
  // The first store format recorded writable mounts only.
  const writable = json.writable === undefined ? true : fields.boolean("writable");
  return {
    id,
    target,
    reference: fields.text("reference"),
    writable,
    chainIds: fields.digests("chainIds"),
  };
}
