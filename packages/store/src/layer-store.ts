// A layer store: each layer of each image extracted once, into its own
// directory keyed by its chain ID, in the format the kernel's overlayfs
// stacks (see overlay's writeOverlayLayer); images that share base layers
// share their directories. Layout of STORE:
//   layers/<chain hex>/diff/        the layer, as overlayfs reads it
//   layers/<chain hex>/layer.json   chain ID, diff_id, parent, counts, short link
//   l/<short> -> ../layers/<chain hex>/diff   short names: a mount's options are one page
//   images/<sha256 of reference and platform>.json   the images kept (what gc keeps)
// mounts/<id>.json, mounts/<id>/{upper,work}        strata's mounts (writable ones with their
// changes)
//   staging/                                  layers being written (renamed when complete)
//   store.json, lock                          root or rootless; the lock gc takes alone
// What is trusted and checked is in trust.ts and records.ts.
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { TargetError } from "@strata-oci/errors";
import { makeDirectories } from "@strata-oci/image";
import { discardStaging, type OverlayLayerStats, type OverlayXattrs } from "@strata-oci/merge";
import {
  damaged,
  newShortName,
  parseImageRecord,
  parseLayerRecord,
  parseMountRecord,
  parseStoreConfig,
  readRecordJson,
  SHORT_NAME,
  writeRecord,
  type MountRecord,
  type StoreConfig,
  type StoredImage,
  type StoredLayer,
} from "./records.js";
import { checkOwnDirectory, checkStoreDirs, checkStoreRoot, STORE_DIRS } from "./trust.js";

/**
 * STRATA_STORE, else /var/lib/strata as root, else $XDG_DATA_HOME/strata (~/.local/share/strata).
 */
export function defaultStore(): string {
  if (process.env.STRATA_STORE !== undefined && process.env.STRATA_STORE !== "")
    return process.env.STRATA_STORE;
  if (process.geteuid?.() === 0) return "/var/lib/strata";
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "strata");
}

const hexOf = (digest: string): string => digest.slice(digest.indexOf(":") + 1);
/** A layer directory's name back as its chain ID (sha256; a sha512 diff_id names a first layer). */
const chainIdOf = (hex: string): string | undefined =>
  /^[0-9a-f]{64}$/.test(hex)
    ? `sha256:${hex}`
    : /^[0-9a-f]{128}$/.test(hex)
      ? `sha512:${hex}`
      : undefined;

/**
 * The file an image is kept in: named by its reference and platform, never by the record's content.
 */
function imageKey(reference: string, platform: string): string {
  return createHash("sha256").update(`${reference}\n${platform}`).digest("hex");
}

function notAStore(root: string): TargetError {
  return new TargetError("STRATA_PATH_NOT_FOUND", `${root} is not a layer store`, {
    hint: "strata unpack --store DIR IMAGE makes one",
  });
}

/** An opened store: trusted (trust.ts), its mode checked against this run's. */
export class LayerStore {
  readonly root: string;
  readonly rootless: boolean;

  private constructor(root: string, config: StoreConfig) {
    this.root = root;
    this.rootless = config.rootless;
  }

  /** Opens the store at `dir`, which must exist. */
  static open(dir: string): LayerStore {
    let root: string;
    try {
      root = realpathSync(dir);
    } catch {
      throw notAStore(resolve(dir));
    }
    if (!existsSync(join(root, "store.json"))) throw notAStore(root);
    checkStoreRoot(root);
    const config = LayerStore.#config(root);
    checkStoreDirs(root);
    return new LayerStore(root, config);
  }

  /**
   * Opens the store at `dir`, made when missing; refused when it is of the other mode than
   * `rootless`.
   */
  static create(dir: string, rootless: boolean): LayerStore {
    const wanted = resolve(dir);
    try {
      // Not mkdirSync's recursive mode: it never returns under /proc (make-directories.ts).
      makeDirectories(wanted, 0o700);
    } catch (cause) {
      throw storeNotMade(wanted, cause);
    }
    try {
      const root = realpathSync(wanted);
      // An existing directory is checked before anything is made in it.
      checkOwnDirectory(root);
      for (const name of STORE_DIRS) mkdirSync(join(root, name), { recursive: true, mode: 0o700 });
      if (!existsSync(join(root, "store.json")))
        writeFileSync(
          join(root, "store.json"),
          `${JSON.stringify({ version: 1, rootless } satisfies StoreConfig)}\n`,
          { flag: "wx", mode: 0o600 },
        );
    } catch (cause) {
      if (cause instanceof TargetError) throw cause;
      throw storeNotMade(wanted, cause);
    }
    const store = LayerStore.open(wanted);
    if (store.rootless !== rootless) {
      throw new TargetError(
        "STRATA_STORE_MISMATCH",
        `the store ${store.root} is ` +
          `${store.rootless ? "rootless" : "root's"}, and this run is ` +
          `${rootless ? "rootless" : "as root"}`,
        {
          hint:
            "use one store per mode: --store DIR (a rootless store marks opaque " +
            "directories with user.overlay.*, root's with trusted.overlay.*)",
        },
      );
    }
    return store;
  }

  static #config(root: string): StoreConfig {
    const file = join(root, "store.json");
    const json = readRecordJson(file);
    if (json === undefined) throw notAStore(root);
    return parseStoreConfig(file, json);
  }

  get xattrs(): OverlayXattrs {
    return this.rootless ? "user" : "trusted";
  }

  layerDir(chainId: string): string {
    return join(this.root, "layers", hexOf(chainId));
  }

  diffDir(chainId: string): string {
    return join(this.layerDir(chainId), "diff");
  }

  /**
   * The layer's record, when it is stored (a layer directory exists only
   * once complete), checked: its directory is this user's, its record names
   * it, its short link leads to it, its diff is a real directory.
   */
  layer(chainId: string): StoredLayer | undefined {
    const dir = this.layerDir(chainId);
    const stats = lstatSync(dir, { throwIfNoEntry: false });
    if (stats === undefined) return undefined;
    checkOwnDirectory(dir, stats);
    const file = join(dir, "layer.json");
    const json = readRecordJson(file);
    if (json === undefined) throw damaged(dir, "a layer directory without layer.json");
    const layer = parseLayerRecord(file, json, chainId);
    const link = join(this.root, "l", layer.link);
    let target: string | undefined;
    try {
      target = readlinkSync(link);
    } catch {
      // Reported below.
    }
    if (target !== join("..", "layers", hexOf(chainId), "diff"))
      throw damaged(link, `not the short link of ${chainId}`);
    if (lstatSync(join(dir, "diff"), { throwIfNoEntry: false })?.isDirectory() !== true)
      throw damaged(join(dir, "diff"), "not a directory");
    return layer;
  }

  /** Every stored layer (names that are not a chain ID's are not strata's: left alone). */
  layers(): StoredLayer[] {
    return readdirSync(join(this.root, "layers"))
      .map(chainIdOf)
      .filter((chainId): chainId is string => chainId !== undefined)
      .map((chainId) => this.layer(chainId))
      .filter((layer): layer is StoredLayer => layer !== undefined);
  }

  imageFile(reference: string, platform: string): string {
    return join(this.root, "images", `${imageKey(reference, platform)}.json`);
  }

  /**
   * The images kept, each record checked and found under the name its reference and platform give.
   */
  images(): StoredImage[] {
    const images: StoredImage[] = [];
    for (const name of readdirSync(join(this.root, "images"))) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      const file = join(this.root, "images", name);
      const json = readRecordJson(file);
      if (json === undefined) continue;
      const image = parseImageRecord(file, json);
      if (this.imageFile(image.reference, image.platform) !== file)
        throw damaged(file, "kept under another image's name");
      images.push(image);
    }
    return images;
  }

  keepImage(image: StoredImage): void {
    writeRecord(this.imageFile(image.reference, image.platform), image);
  }

  forgetImage(image: Pick<StoredImage, "reference" | "platform">): void {
    rmSync(this.imageFile(image.reference, image.platform), { force: true });
  }

  /** strata's mounts from this store, each record checked. */
  mounts(): MountRecord[] {
    const records: MountRecord[] = [];
    for (const name of readdirSync(join(this.root, "mounts"))) {
      const id = name.slice(0, -".json".length);
      if (!name.endsWith(".json") || !SHORT_NAME.test(id)) continue;
      const record = this.mount(id);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  mount(id: string): MountRecord | undefined {
    if (!SHORT_NAME.test(id)) return undefined;
    const file = join(this.root, "mounts", `${id}.json`);
    const json = readRecordJson(file);
    return json === undefined ? undefined : parseMountRecord(file, json, id);
  }

  /** A writable mount's upper and work directories live here. */
  mountDir(id: string): string {
    if (!SHORT_NAME.test(id)) throw new Error(`not a mount id: ${id}`);
    return join(this.root, "mounts", id);
  }

  recordMount(record: MountRecord): void {
    writeRecord(join(this.root, "mounts", `${record.id}.json`), record);
  }

  /**
   * Removes a mount's record and its upper and work directories; returns the directory removed
   * (writable mounts).
   */
  forgetMount(id: string): string | undefined {
    const dir = this.mountDir(id);
    const had = existsSync(dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.json`, { force: true });
    return had ? dir : undefined;
  }

  /**
   * Adds a layer written by `write` into a private staging directory: it
   * gets its name only when complete. Where another writer stored the same
   * chain ID meanwhile, theirs is kept and ours discarded (both are the
   * same layer). Returns whether this call stored it.
   */
  async add(
    layer: Pick<StoredLayer, "chainId" | "diffId" | "parent">,
    write: (diff: string) => Promise<OverlayLayerStats>,
  ): Promise<boolean> {
    const staging = mkdtempSync(
      join(this.root, "staging", `${hexOf(layer.chainId).slice(0, 12)}-${process.pid}-`),
    );
    const link = newShortName();
    try {
      const diff = join(staging, "diff");
      mkdirSync(diff);
      const stats = await write(diff);
      const { entries, bytes, whiteouts, opaque, copiedUp } = stats;
      const stored: StoredLayer = { ...layer, link, entries, bytes, whiteouts, opaque, copiedUp };
      writeFileSync(join(staging, "layer.json"), `${JSON.stringify(stored, null, 2)}\n`, {
        mode: 0o600,
      });
      symlinkSync(join("..", "layers", hexOf(layer.chainId), "diff"), join(this.root, "l", link));
      try {
        renameSync(staging, this.layerDir(layer.chainId));
        return true;
      } catch (error) {
        rmSync(join(this.root, "l", link), { force: true });
        const code = (error as NodeJS.ErrnoException).code;
        if ((code === "ENOTEMPTY" || code === "EEXIST") && this.layer(layer.chainId) !== undefined)
          return false;
        throw error;
      }
    } finally {
      discardStaging(staging);
    }
  }

  /**
   * Takes a layer out of `layers/` by one rename (a reader never sees half a layer), then removes
   * it and its short link.
   */
  removeLayer(layer: StoredLayer): void {
    const doomed = join(this.root, "staging", `gc-${hexOf(layer.chainId)}-${newShortName()}`);
    renameSync(this.layerDir(layer.chainId), doomed);
    rmSync(join(this.root, "l", layer.link), { force: true });
    discardStaging(doomed);
  }

  /**
   * The lowerdir option for the layers of `chain` (top first), relative to the store (mount runs
   * there).
   */
  lowerdir(chain: readonly string[]): string {
    const links = chain.map((chainId) => {
      const layer = this.layer(chainId);
      if (layer === undefined)
        throw new TargetError(
          "STRATA_PATH_NOT_FOUND",
          `layer ${chainId} is not in the store ${this.root}`,
          { hint: "strata unpack --store DIR IMAGE stores it" },
        );
      return `l/${layer.link}`;
    });
    const topFirst = links.reverse();
    // overlayfs mounts no fewer than two lower layers: empty ones go below (an image without layers
    // is an empty root).
    while (topFirst.length < 2)
      topFirst.push(this.#emptyDir(topFirst.length === 0 ? "empty-root" : "empty"));
    return topFirst.join(":");
  }

  /** An empty directory as the changeset rules imply a root: 0755, mtime 0. */
  #emptyDir(name: string): string {
    const dir = join(this.root, name);
    if (!existsSync(dir)) {
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      utimesSync(dir, 0, 0);
    }
    return name;
  }
}

function storeNotMade(wanted: string, cause: unknown): TargetError {
  return new TargetError(
    "STRATA_BAD_DESTINATION",
    `cannot make the layer store ${wanted}: ` +
      `${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
    { cause, hint: "--store names a directory (made when missing) that you can write" },
  );
}
