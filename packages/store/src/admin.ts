import { readFileSync } from "node:fs";
import { TargetError } from "@strata-oci/errors";
import {
  formatPlatform,
  openImage,
  parsePlatform,
  platformMatches,
  type Platform,
} from "@strata-oci/image";
import { defaultStore, LayerStore } from "./layer-store.js";
import { withStoreLock } from "./lock.js";
import { mountsAt, parseMountSource } from "./mount-table.js";
import type { StoredImage, StoredLayer } from "./records.js";
import { keptName } from "./unpack-to-store.js";

/** A stored layer, with the kept images whose stacks contain it. */
export interface StoreListing extends StoredLayer {
  readonly images: readonly string[];
}

function openStore(dir: string | undefined): LayerStore {
  return LayerStore.open(dir ?? defaultStore());
}

function usersOf(images: readonly StoredImage[]): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const image of images) {
    const name = image.platform === "" ? image.reference : `${image.reference} (${image.platform})`;
    for (const chainId of image.chainIds) users.set(chainId, [...(users.get(chainId) ?? []), name]);
  }
  return users;
}

/**
 * Every stored layer with the images that use it: each kept image's layers bottom first (images by
 * name), then those no image uses.
 */
export function storeList(options: { readonly store?: string } = {}): StoreListing[] {
  const store = openStore(options.store);
  const images = store
    .images()
    .sort((a, b) => a.reference.localeCompare(b.reference) || a.platform.localeCompare(b.platform));
  const users = usersOf(images);
  const order = new Map<string, number>();
  for (const image of images)
    for (const chainId of image.chainIds) if (!order.has(chainId)) order.set(chainId, order.size);
  const rank = (chainId: string): number => order.get(chainId) ?? Number.MAX_SAFE_INTEGER;
  return store
    .layers()
    .map((layer) => ({ ...layer, images: users.get(layer.chainId) ?? [] }))
    .sort((a, b) => rank(a.chainId) - rank(b.chainId) || a.chainId.localeCompare(b.chainId));
}

export interface StoreUsage {
  readonly layers: number;
  readonly images: number;
  readonly bytes: number;
  readonly sharedBytes: number;
  readonly unusedLayers: number;
}

/**
 * Bytes of file data stored, and what sharing saved: a layer used by n images is stored once
 * instead of n times.
 */
export function storeUsage(options: { readonly store?: string } = {}): StoreUsage {
  const listing = storeList(options);
  return {
    layers: listing.length,
    images: openStore(options.store).images().length,
    bytes: listing.reduce((sum, layer) => sum + layer.bytes, 0),
    sharedBytes: listing.reduce(
      (sum, layer) => sum + layer.bytes * Math.max(0, layer.images.length - 1),
      0,
    ),
    unusedLayers: listing.filter((layer) => layer.images.length === 0).length,
  };
}

/**
 * Kept images named `reference`, of `platform` when one is given (matched as an index matches it).
 */
function kept(store: LayerStore, reference: string, platform: Platform | undefined): StoredImage[] {
  return store.images().filter((image) => {
    if (image.reference !== reference) return false;
    if (platform === undefined || image.platform === "") return true;
    return platformMatches(parsePlatform(image.platform), platform);
  });
}

/**
 * Stops keeping IMAGE (as given to unpack --store, or its resolved
 * reference): every platform kept of it, or the one `platform` names. Its
 * layers stay until gc.
 */
export async function storeRemove(options: {
  readonly store?: string;
  readonly image: string;
  readonly platform?: string | Platform;
}): Promise<{ readonly removed: readonly StoredImage[] }> {
  const store = openStore(options.store);
  const platform =
    typeof options.platform === "string" ? parsePlatform(options.platform) : options.platform;
  let found = kept(store, keptName(options.image), platform);
  if (found.length === 0) {
    try {
      const image = await openImage({
        image: options.image,
        ...(platform === undefined ? {} : { platform }),
      });
      found = kept(store, keptName(image.source), platform);
    } catch {
      // Not openable any more: only its recorded name can match.
    }
  }
  if (found.length === 0) {
    const which = platform === undefined ? "" : ` for ${formatPlatform(platform)}`;
    throw new TargetError(
      "STRATA_PATH_NOT_FOUND",
      `the store ${store.root} keeps no image ${options.image}${which}`,
      { hint: "strata store ls lists the images it keeps" },
    );
  }
  for (const image of found) store.forgetImage(image);
  return { removed: found };
}

/**
 * Removes every layer that no kept image and no mount of strata's uses,
 * with the store's lock held alone (no image is being stored meanwhile).
 * Each layer goes out of `layers/` by one rename first: a reader never sees
 * half a layer. The record of a read-only mount that is no longer mounted
 * (a reboot) is dropped; a writable one's stays with its changes.
 */
export async function storeGc(
  options: { readonly store?: string; readonly signal?: AbortSignal } = {},
): Promise<{ readonly removed: readonly string[]; readonly bytes: number }> {
  const store = openStore(options.store);
  return withStoreLock(store.root, "exclusive", options.signal, async () => {
    const used = new Set(store.images().flatMap((image) => image.chainIds));
    const table = readFileSync("/proc/self/mountinfo", "utf8");
    for (const record of store.mounts()) {
      const mounted = mountsAt(record.target, table).some((entry) => {
        const tag = parseMountSource(entry.source);
        return tag?.id === record.id && tag.store === store.root;
      });
      if (!mounted && !record.writable) store.forgetMount(record.id);
      else for (const chainId of record.chainIds) used.add(chainId);
    }
    const removed: string[] = [];
    let bytes = 0;
    for (const layer of store.layers()) {
      if (used.has(layer.chainId)) continue;
      store.removeLayer(layer);
      removed.push(layer.chainId);
      bytes += layer.bytes;
    }
    return { removed, bytes };
  });
}
