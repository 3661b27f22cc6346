// A layer store: each layer of each image extracted once, into its own
// directory keyed by its chain ID, in the format the kernel's overlayfs
// stacks (see overlay's writeOverlayLayer); images that share base layers
// share their directories. Layout of STORE:
//   layers/<chain hex>/diff/        the layer, as overlayfs reads it
//   layers/<chain hex>/layer.json   chain ID, diff_id, parent, counts, short link
//   l/<short> -> ../layers/<chain hex>/diff   short names: a mount's options are one page
//   images/<sha256 of reference>.json         the images kept (what gc keeps)
//   mounts/<id>/{upper,work} and <id>.json    writable mounts
//   staging/                                  layers being written (renamed when complete)
//   store.json                                root or rootless (trusted or user xattrs)
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { builtin, ImageError, readLayer, TargetError, withErrorContext, type LayerLimits } from "@strata-oci/layer";
import { chainIds, openImage, parseImageReference, type Image, type Platform, type RegistryOptions } from "@strata-oci/image";
import { copyNodeAttributes, discardStaging, MergedTree, StoredLayers, ownershipFor, writeBottomLayer, writeOverlayLayer, type OverlayLayerStats, type OverlayXattrs, type UnpackWarning } from "@strata-oci/overlay";
import { collectWarnings, refuseArtifact } from "./unpack.js";

/** STRATA_STORE, else /var/lib/strata as root, else $XDG_DATA_HOME/strata (~/.local/share/strata). */
export function defaultStore(): string {
  if (process.env.STRATA_STORE !== undefined && process.env.STRATA_STORE !== "") return process.env.STRATA_STORE;
  if (process.geteuid?.() === 0) return "/var/lib/strata";
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "strata");
}

interface StoreConfig {
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
  readonly manifest: string | undefined;
  readonly config: string | undefined;
  /** Chain IDs, layer 0 first. */
  readonly chainIds: readonly string[];
}

const hexOf = (digest: string): string => digest.slice(digest.indexOf(":") + 1);

/** The name an image is kept under: a layout or archive by its absolute path, so that the working directory does not matter. */
function keptName(image: string, resolved?: Image): string {
  const parsed = parseImageReference(image);
  if (parsed.transport === "docker") return resolved?.reference ?? image;
  return `${parsed.transport}:${resolve(parsed.path)}${parsed.tag === undefined ? "" : `:${parsed.tag}`}`;
}

/** An opened store: its directories made, its mode checked against this run's. */
export class LayerStore {
  readonly root: string;
  readonly rootless: boolean;

  constructor(root: string, rootless: boolean) {
    this.root = resolve(root);
    try {
      mkdirSync(this.root, { recursive: true, mode: 0o700 });
      for (const dir of ["layers", "l", "images", "mounts", "staging"]) mkdirSync(join(this.root, dir), { recursive: true, mode: 0o700 });
      const configPath = join(this.root, "store.json");
      if (!existsSync(configPath)) writeFileSync(configPath, `${JSON.stringify({ version: 1, rootless } satisfies StoreConfig)}\n`, { flag: "wx" });
    } catch (cause) {
      throw new TargetError("STRATA_BAD_DESTINATION", `cannot make the layer store ${this.root}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, {
        cause,
        hint: "--store names a directory (made when missing) that you can write",
      });
    }
    const config = readStoreConfig(this.root);
    if (config.rootless !== rootless) {
      throw new TargetError("STRATA_STORE_MISMATCH", `the store ${this.root} is ${config.rootless ? "rootless" : "root's"}, and this run is ${rootless ? "rootless" : "as root"}`, {
        hint: "use one store per mode: --store DIR (a rootless store marks opaque directories with user.overlay.*, root's with trusted.overlay.*)",
      });
    }
    this.rootless = rootless;
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

  /** The layer's record, when it is stored (complete: a layer directory exists only once renamed into place). */
  layer(chainId: string): StoredLayer | undefined {
    const path = join(this.layerDir(chainId), "layer.json");
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as StoredLayer) : undefined;
  }

  layers(): StoredLayer[] {
    return readdirSync(join(this.root, "layers"))
      .map((hex) => this.layer(`sha256:${hex}`))
      .filter((layer): layer is StoredLayer => layer !== undefined);
  }

  images(): StoredImage[] {
    return readdirSync(join(this.root, "images"))
      .filter((name) => name.endsWith(".json"))
      .map((name) => JSON.parse(readFileSync(join(this.root, "images", name), "utf8")) as StoredImage);
  }

  imageFile(reference: string): string {
    return join(this.root, "images", `${createHash("sha256").update(reference).digest("hex")}.json`);
  }

  keepImage(image: StoredImage): void {
    const file = this.imageFile(image.reference);
    const temp = `${file}.${randomBytes(4).toString("hex")}`;
    writeFileSync(temp, `${JSON.stringify(image, null, 2)}\n`);
    renameSync(temp, file);
  }

  /**
   * Adds a layer written by `write` into a private staging directory: it
   * gets its name only when complete. Where another writer stored the same
   * chain ID meanwhile, theirs is kept and ours discarded (both are the
   * same layer). Returns whether this call stored it.
   */
  async add(layer: Pick<StoredLayer, "chainId" | "diffId" | "parent">, write: (diff: string) => Promise<OverlayLayerStats>): Promise<boolean> {
    const staging = mkdtempSync(join(this.root, "staging", `${hexOf(layer.chainId).slice(0, 12)}-${process.pid}-`));
    const link = randomBytes(9).toString("base64url");
    try {
      const diff = join(staging, "diff");
      mkdirSync(diff);
      const stats = await write(diff);
      const stored: StoredLayer = { ...layer, link, entries: stats.entries, bytes: stats.bytes, whiteouts: stats.whiteouts, opaque: stats.opaque, copiedUp: stats.copiedUp };
      writeFileSync(join(staging, "layer.json"), `${JSON.stringify(stored, null, 2)}\n`);
      symlinkSync(join("..", "layers", hexOf(layer.chainId), "diff"), join(this.root, "l", link));
      try {
        renameSync(staging, this.layerDir(layer.chainId));
        return true;
      } catch (error) {
        rmSync(join(this.root, "l", link), { force: true });
        const code = (error as NodeJS.ErrnoException).code;
        if ((code === "ENOTEMPTY" || code === "EEXIST") && this.layer(layer.chainId) !== undefined) return false;
        throw error;
      }
    } finally {
      discardStaging(staging);
    }
  }

  /** The lowerdir option for the layers of `chain` (top first), relative to the store (mount runs there). */
  lowerdir(chain: readonly string[]): string {
    const links = chain.map((chainId) => {
      const layer = this.layer(chainId);
      if (layer === undefined) throw new TargetError("STRATA_PATH_NOT_FOUND", `layer ${chainId} is not in the store ${this.root}`, { hint: "strata unpack --store DIR IMAGE stores it" });
      return `l/${layer.link}`;
    });
    const topFirst = links.reverse();
    // overlayfs will not mount one lower layer alone: an empty one goes below it.
    if (topFirst.length === 1) {
      mkdirSync(join(this.root, "empty"), { recursive: true, mode: 0o755 });
      topFirst.push("empty");
    }
    return topFirst.join(":");
  }
}

export interface StoreUnpackOptions {
  readonly image: string;
  /** The store (default: defaultStore()). */
  readonly store?: string;
  readonly platform?: string | Platform;
  readonly registry?: RegistryOptions;
  /** Owners in user.rootlesscontainers, user.overlay.* markers (for userxattr mounts). Default: when not root. */
  readonly rootless?: boolean;
  readonly limits?: Partial<LayerLimits>;
  readonly signal?: AbortSignal;
  readonly onWarning?: (warning: UnpackWarning) => void;
  /** Called when each layer is stored (`written`) or found stored already. */
  readonly onLayer?: (event: { index: number; count: number; chainId: string; written: boolean }) => void;
}

export interface StoreUnpackResult {
  readonly image: Image;
  readonly store: string;
  readonly chainIds: readonly string[];
  /** Layers this call extracted, and those it found stored. */
  readonly written: number;
  readonly reused: number;
  /** The mount's lowerdir option, relative to the store directory (top layer first). */
  readonly lowerdir: string;
  readonly warnings: readonly UnpackWarning[];
}

/**
 * Stores IMAGE's layers that the store lacks, each stacked on those below
 * it, and keeps the image (what `storeGc` keeps). Layers stored already are
 * read back from their directories (headers only), never from the image.
 */
export async function unpackToStore(options: StoreUnpackOptions): Promise<StoreUnpackResult> {
  const image = await openImage({
    image: options.image,
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });
  refuseArtifact(image);
  const rootless = options.rootless ?? (process.geteuid?.() ?? 0) !== 0;
  const store = new LayerStore(options.store ?? defaultStore(), rootless);
  const chain = chainIds(image.config.diffIds);
  const { warnings, warn } = collectWarnings(image, options.onWarning);
  // Each layer is written over the merged view of the stored layers below it, which a fresh
  // merged tree loads only where this layer touches it: the layers below are never read whole
  // (an image whose base is stored costs its own layers), and nothing accumulates in memory.
  // Kept before its layers are looked at: a gc running meanwhile keeps the layers this call
  // finds stored (and those it adds). Put back as it was if this call fails.
  const kept: StoredImage = { reference: keptName(options.image, image), manifest: image.manifest?.digest, config: image.configDigest, chainIds: chain };
  const keptFile = store.imageFile(kept.reference);
  const keptBefore = existsSync(keptFile) ? readFileSync(keptFile, "utf8") : undefined;
  store.keepImage(kept);
  try {
    return await storeLayers();
  } catch (error) {
    if (keptBefore === undefined) rmSync(keptFile, { force: true });
    else writeFileSync(keptFile, keptBefore);
    throw error;
  }

  async function storeLayers(): Promise<StoreUnpackResult> {
    const lowers: string[] = [];
    let written = 0;
    for (const [index, layer] of image.layers.entries()) {
      const chainId = chain[index] as string;
      let added = false;
      if (store.layer(chainId) === undefined) {
        const entries = readLayer(layer, {
          transientChunks: true,
          context: { image: image.reference },
          ...(options.limits === undefined ? {} : { limits: options.limits }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        const writeOptions = { policy: ownershipFor(rootless), xattrs: store.xattrs, onWarning: warn, ...(options.signal === undefined ? {} : { signal: options.signal }) };
        const below = [...lowers];
        try {
          added = await store.add({ chainId, diffId: image.config.diffIds[index] as string, parent: chain[index - 1] }, (diff) =>
            below.length === 0
              ? writeBottomLayer(diff, entries, writeOptions)
              : writeOverlayLayer(new MergedTree({ lower: new StoredLayers(below, store.xattrs, rootless), layers: below.length }), diff, below, entries, writeOptions),
          );
        } catch (error) {
          throw withErrorContext(error, { image: image.reference, layer: layer.digest ?? layer.diffId ?? `#${index}` });
        }
        if (added) written++;
      }
      options.onLayer?.({ index, count: image.layers.length, chainId, written: added });
      lowers.push(store.diffDir(chainId));
    }
    return { image, store: store.root, chainIds: chain, written, reused: image.layers.length - written, lowerdir: chain.length === 0 ? "" : store.lowerdir(chain), warnings };
  }
}

export interface MountOptions extends StoreUnpackOptions {
  /** An existing directory to mount the image's tree on. */
  readonly target: string;
  /** With an upper and work directory of its own (in STORE/mounts), like a container's rootfs; else read-only. */
  readonly writable?: boolean;
}

export interface MountResult {
  readonly target: string;
  readonly store: string;
  /** The mount options given to the kernel (paths relative to the store). */
  readonly options: string;
  /** A writable mount's upper directory (its changes). */
  readonly upper: string | undefined;
  readonly unpacked: StoreUnpackResult;
}

interface MountRecord {
  readonly id: string;
  readonly target: string;
  readonly reference: string;
  readonly chainIds: readonly string[];
}

/** The writable mounts strata made from the store at `root` (their upper and work directories are mounts/<id>). */
function mountRecords(root: string): MountRecord[] {
  const mounts = join(root, "mounts");
  return (existsSync(mounts) ? readdirSync(mounts) : []).filter((name) => name.endsWith(".json")).map((name) => JSON.parse(readFileSync(join(mounts, name), "utf8")) as MountRecord);
}

/** Removes a writable mount's upper and work directories and its record; returns the directory removed. */
function forgetMount(root: string, id: string): string {
  const dir = join(root, "mounts", id);
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(root, "mounts", `${id}.json`), { force: true });
  return dir;
}

/** TARGET as the kernel names it, refused unless it is an existing directory. */
function mountPoint(path: string): string {
  let real: string | undefined;
  try {
    real = realpathSync(path);
  } catch {
    // Reported below, with the others.
  }
  if (real === undefined || !lstatSync(real).isDirectory()) {
    throw new TargetError("STRATA_BAD_DESTINATION", `${path} is not an existing directory`, { hint: "mount on, and unmount, an existing directory (mkdir it first)" });
  }
  return real;
}

/**
 * Mounts IMAGE's tree on TARGET with the kernel's overlayfs, its layers
 * stored first where the store lacks them. Needs root (a rootless store's
 * layers suit a `userxattr` mount in a user namespace; the options are in
 * the result).
 */
export async function mountImage(options: MountOptions): Promise<MountResult> {
  const target = mountPoint(options.target);
  const unpacked = await unpackToStore(options);
  const store = new LayerStore(unpacked.store, options.rootless ?? (process.geteuid?.() ?? 0) !== 0);
  if (unpacked.chainIds.length === 0) throw new ImageError("STRATA_BAD_IMAGE", "an image without layers has no tree to mount", { hint: "unpack it instead" });
  // Only lower layers: no redirects followed (strata never writes them; an image cannot, its overlay xattrs are dropped).
  let mountOptions = `lowerdir=${unpacked.lowerdir},redirect_dir=nofollow`;
  let upper: string | undefined;
  let record: MountRecord | undefined;
  if (options.writable === true) {
    const id = randomBytes(9).toString("base64url");
    const dir = join(store.root, "mounts", id);
    mkdirSync(join(dir, "work"), { recursive: true, mode: 0o700 });
    upper = join(dir, "upper");
    mkdirSync(upper, { mode: 0o755 });
    // The merged root shows the upper directory's own attributes: give it the image's.
    copyNodeAttributes(Buffer.from(store.diffDir(unpacked.chainIds.at(-1) as string)), Buffer.from(upper));
    mountOptions = `lowerdir=${unpacked.lowerdir},upperdir=mounts/${id}/upper,workdir=mounts/${id}/work,redirect_dir=nofollow${store.rootless ? ",userxattr" : ""}`;
    record = { id, target, reference: unpacked.image.reference, chainIds: unpacked.chainIds };
    writeFileSync(join(store.root, "mounts", `${id}.json`), `${JSON.stringify(record, null, 2)}\n`);
  } else if (store.rootless) {
    mountOptions += ",userxattr";
  }
  const run = builtin("node:child_process").spawnSync("mount", ["-t", "overlay", "overlay", "-o", mountOptions, target], { cwd: store.root, encoding: "utf8" });
  if (run.status !== 0) {
    if (record !== undefined) forgetMount(store.root, record.id);
    throw new TargetError("STRATA_MOUNT_FAILED", `mount -t overlay on ${target} failed: ${(run.stderr ?? run.error?.message ?? "").trim()}`, {
      hint: store.rootless ? "an unprivileged overlay mount needs a user namespace (unshare -rm) and a kernel with userxattr (5.11+)" : "mounting needs root and a kernel with overlayfs",
    });
  }
  return { target, store: store.root, options: mountOptions, upper, unpacked };
}

/** Unmounts TARGET; a writable mount's upper and work directories (its changes) are removed with it. */
export function unmountImage(options: { readonly target: string; readonly store?: string }): { readonly target: string; readonly removed: string | undefined } {
  const target = mountPoint(options.target);
  const run = builtin("node:child_process").spawnSync("umount", [target], { encoding: "utf8" });
  if (run.status !== 0) throw new TargetError("STRATA_MOUNT_FAILED", `umount ${target} failed: ${(run.stderr ?? "").trim()}`, { hint: "is it mounted, and is nothing using it (lsof, fuser -m)?" });
  const root = resolve(options.store ?? defaultStore());
  let removed: string | undefined;
  for (const record of mountRecords(root)) if (record.target === target) removed = forgetMount(root, record.id);
  return { target, removed };
}

/** A stored layer, with the kept images whose stacks contain it. */
export interface StoreListing extends StoredLayer {
  readonly images: readonly string[];
}

function usersOf(store: LayerStore): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const image of store.images()) for (const chainId of image.chainIds) users.set(chainId, [...(users.get(chainId) ?? []), image.reference]);
  return users;
}

/** The store's store.json, checked: a store is root's or rootless. */
function readStoreConfig(root: string): StoreConfig {
  const configPath = join(root, "store.json");
  if (!existsSync(configPath)) throw new TargetError("STRATA_PATH_NOT_FOUND", `${root} is not a layer store`, { hint: "strata unpack --store DIR IMAGE makes one" });
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configPath, "utf8"));
  } catch (cause) {
    config = cause;
  }
  if (typeof config !== "object" || config === null || typeof (config as StoreConfig).rootless !== "boolean") {
    throw new TargetError("STRATA_BAD_DESTINATION", `${configPath} is damaged: not a layer store's settings`, { hint: "repair it ({\"version\":1,\"rootless\":false} for root's store) or use another --store" });
  }
  return config as StoreConfig;
}

function openStore(dir: string | undefined): LayerStore {
  const root = resolve(dir ?? defaultStore());
  return new LayerStore(root, readStoreConfig(root).rootless);
}

/** Every stored layer with the images that use it: each kept image's layers bottom first (images by name), then those no image uses. */
export function storeList(options: { readonly store?: string } = {}): StoreListing[] {
  const store = openStore(options.store);
  const users = usersOf(store);
  const order = new Map<string, number>();
  for (const image of store.images().sort((a, b) => a.reference.localeCompare(b.reference))) {
    for (const chainId of image.chainIds) if (!order.has(chainId)) order.set(chainId, order.size);
  }
  const rank = (chainId: string): number => order.get(chainId) ?? Number.MAX_SAFE_INTEGER;
  return store
    .layers()
    .map((layer) => ({ ...layer, images: users.get(layer.chainId) ?? [] }))
    .sort((a, b) => rank(a.chainId) - rank(b.chainId) || a.chainId.localeCompare(b.chainId));
}

/** Bytes of file data stored, and what sharing saved: a layer used by n images is stored once instead of n times. */
export function storeUsage(options: { readonly store?: string } = {}): { readonly layers: number; readonly images: number; readonly bytes: number; readonly sharedBytes: number; readonly unusedLayers: number } {
  const listing = storeList(options);
  return {
    layers: listing.length,
    images: openStore(options.store).images().length,
    bytes: listing.reduce((sum, layer) => sum + layer.bytes, 0),
    sharedBytes: listing.reduce((sum, layer) => sum + layer.bytes * Math.max(0, layer.images.length - 1), 0),
    unusedLayers: listing.filter((layer) => layer.images.length === 0).length,
  };
}

/** Stops keeping IMAGE (as given to unpack --store, or its resolved reference); its layers stay until gc. */
export async function storeRemove(options: { readonly store?: string; readonly image: string; readonly platform?: string | Platform }): Promise<{ readonly removed: string }> {
  const store = openStore(options.store);
  let reference = keptName(options.image);
  if (!existsSync(store.imageFile(reference))) {
    try {
      reference = keptName(options.image, await openImage({ image: options.image, ...(options.platform === undefined ? {} : { platform: options.platform }) }));
    } catch {
      // Not openable any more: only its recorded name can match.
    }
  }
  if (!existsSync(store.imageFile(reference))) {
    throw new TargetError("STRATA_PATH_NOT_FOUND", `the store ${store.root} keeps no image ${options.image}`, { hint: "strata store ls lists the images it keeps" });
  }
  rmSync(store.imageFile(reference));
  return { removed: reference };
}

/**
 * Removes every layer that no kept image and no writable mount of strata
 * uses. Each goes out of `layers/` by one rename first: a reader never sees
 * half a layer.
 */
export function storeGc(options: { readonly store?: string } = {}): { readonly removed: readonly string[]; readonly bytes: number } {
  const store = openStore(options.store);
  const used = new Set(store.images().flatMap((image) => image.chainIds));
  for (const record of mountRecords(store.root)) for (const chainId of record.chainIds) used.add(chainId);
  const removed: string[] = [];
  let bytes = 0;
  for (const layer of store.layers()) {
    if (used.has(layer.chainId)) continue;
    const doomed = join(store.root, "staging", `gc-${hexOf(layer.chainId)}-${randomBytes(4).toString("hex")}`);
    renameSync(store.layerDir(layer.chainId), doomed);
    rmSync(join(store.root, "l", layer.link), { force: true });
    discardStaging(doomed);
    removed.push(layer.chainId);
    bytes += layer.bytes;
  }
  return { removed, bytes };
}
