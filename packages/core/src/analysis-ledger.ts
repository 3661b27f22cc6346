// strata analyse's accounting, kept while the merged tree is built from the
// layers' headers: what each layer adds and changes, what it removes from
// below, and every file's bytes that give way to a later entry (wasted).
// Each file entry's bytes end either in the merged view (kept) or given way
// (wasted): per layer, fileBytes = keptBytes + wastedBytes, a check the
// tests hold. A hardlinked file's bytes are wasted only when its last name
// goes.
import type { EntryPath, LayerEntry } from "@strata-oci/layer";
import type { GaveWay, MergedEntry, MergedTree, MergeObserver } from "@strata-oci/merge";

/** What one layer did, from its headers. */
export interface LayerFigures {
  /** Entries in its tar: files, directories, links, whiteouts and opaque markers. */
  entries: number;
  /** Entries at a path no lower layer had. */
  added: number;
  /** Entries over a lower layer's: `content` replaced it, `metadata` a directory's attributes. */
  changed: { content: number; metadata: number };
  /** Lower layers' entries it removed (whiteouts, opaque directories, a parent replaced). */
  removed: number;
  /** Its whiteouts and opaque markers. */
  whiteouts: number;
  /** Bytes of its files. */
  fileBytes: number;
  /** Of those, the bytes the merged view shows. */
  keptBytes: number;
  /** Of those, the bytes a later entry overwrote or removed. */
  wastedBytes: number;
  /** Bytes of its uncompressed tar. */
  tarBytes: number;
}

/** The merged view: its files' bytes (a hardlinked file once), its paths, the image's layers. */
export interface ViewTotals {
  readonly bytes: number;
  readonly entries: number;
  readonly layers: number;
}

/** A file whose bytes were hidden: the layer that wrote them and the one that hid them. */
export interface WastedPath {
  readonly path: EntryPath;
  readonly size: number;
  readonly layer: number;
  readonly hiddenBy: number;
  readonly how: "overwritten" | "removed";
}

/** A path that several layers wrote a file at. */
export interface RepeatedPath {
  readonly path: EntryPath;
  /** The layers that wrote it, in order (a layer twice where it wrote it twice). */
  readonly layers: number[];
  /** Bytes written there, all layers together. */
  bytes: number;
}

const emptyFigures = (): LayerFigures => ({
  entries: 0,
  added: 0,
  changed: { content: 0, metadata: 0 },
  removed: 0,
  whiteouts: 0,
  fileBytes: 0,
  keptBytes: 0,
  wastedBytes: 0,
  tarBytes: 0,
});

export class AnalysisLedger implements MergeObserver {
  readonly layers: LayerFigures[];
  readonly #top: number;
  #largest: WastedPath[] = [];
  readonly #repeated = new Map<string, RepeatedPath>();
  /** Entries a hardlink shares: their bytes are counted at the end, by whether a name is left. */
  readonly #linked = new WeakSet<MergedEntry>();
  readonly #linkedGone = new Map<MergedEntry, WastedPath>();
  #current = -1;
  /** How the entry being applied met what was at its path. */
  #met: { how: GaveWay; layer: number } | undefined;

  constructor(layerCount: number, top: number) {
    this.layers = Array.from({ length: layerCount }, emptyFigures);
    this.#top = top;
  }

  /** Layer `index`'s entries, counted as they pass into the tree. */
  async *entries(index: number, source: AsyncIterable<LayerEntry>): AsyncIterable<LayerEntry> {
    this.#current = index;
    const figures = this.layers[index] as LayerFigures;
    for await (const entry of source) {
      figures.entries++;
      if (entry.kind === "whiteout" || entry.kind === "opaque") figures.whiteouts++;
      if (entry.kind === "file") figures.fileBytes += entry.size;
      this.#met = undefined;
      yield entry;
      // The tree applied it when the next one was asked for (or the layer ended): see below.
      this.#classify(entry, figures);
    }
  }

  #classify(entry: LayerEntry, figures: LayerFigures): void {
    if (entry.kind === "whiteout" || entry.kind === "opaque") return;
    const met = this.#met;
    // An implied directory (layer -1) or this layer's own entry: nothing below was there.
    if (met === undefined || met.layer === -1 || met.layer === this.#current) figures.added++;
    else if (met.how === "updated") figures.changed.metadata++;
    else figures.changed.content++;
  }

  gaveWay(entry: MergedEntry, path: EntryPath, how: GaveWay): void {
    if (how !== "removed") this.#met ??= { how, layer: entry.layer };
    if (how === "removed" && entry.layer !== this.#current)
      (this.layers[this.#current] as LayerFigures).removed++;
    if (how === "updated" || entry.kind !== "file") return;
    const wasted: WastedPath = {
      path,
      size: entry.size,
      layer: entry.layer,
      hiddenBy: this.#current,
      how: how === "replaced" ? "overwritten" : "removed",
    };
    if (how === "replaced") this.#repeat(path, entry);
    if (this.#linked.has(entry)) this.#linkedGone.set(entry, wasted);
    else this.#waste(wasted);
  }

  linked(entry: MergedEntry): void {
    this.#linked.add(entry);
    this.#linkedGone.delete(entry);
  }

  /** Layer `index` read `bytes` more of its uncompressed tar. */
  tarBytes(index: number, bytes: number): void {
    (this.layers[index] as LayerFigures).tarBytes += bytes;
  }

  #waste(wasted: WastedPath): void {
    (this.layers[wasted.layer] as LayerFigures).wastedBytes += wasted.size;
    if (wasted.size === 0) return;
    this.#largest.push(wasted);
    if (this.#largest.length > 4 * this.#top) this.#largest = bySize(this.#largest, this.#top);
  }

  #repeat(path: EntryPath, lower: MergedEntry): void {
    const key = path.toString("latin1");
    const known = this.#repeated.get(key);
    if (known === undefined)
      this.#repeated.set(key, { path, layers: [lower.layer], bytes: lower.size });
    else {
      known.layers.push(lower.layer);
      known.bytes += lower.size;
    }
  }

  /**
   * The merged view's files counted as kept (a hardlink group once), and hardlinked files no name
   * of which is left counted as wasted; then the lists, largest first, and the view's totals.
   */
  finish(tree: MergedTree): {
    largestWasted: WastedPath[];
    repeated: RepeatedPath[];
    view: ViewTotals;
  } {
    const seen = new WeakSet<MergedEntry>();
    const view = { bytes: 0, entries: 0, layers: this.layers.length };
    for (const { path, entry } of tree.walk(undefined, false)) {
      view.entries++;
      if (entry.kind !== "file" || entry.layer < 0) continue;
      const repeated = this.#repeated.get(path.toString("latin1"));
      if (repeated !== undefined) {
        repeated.layers.push(entry.layer);
        repeated.bytes += entry.size;
      }
      if (seen.has(entry)) continue;
      seen.add(entry);
      this.#linkedGone.delete(entry);
      view.bytes += entry.size;
      (this.layers[entry.layer] as LayerFigures).keptBytes += entry.size;
    }
    for (const wasted of this.#linkedGone.values()) this.#waste(wasted);
    this.#linkedGone.clear();
    const repeated = [...this.#repeated.values()]
      .filter((r) => r.layers.length > 1)
      .sort((a, b) => b.bytes - a.bytes || Buffer.compare(a.path, b.path))
      .slice(0, this.#top);
    return { largestWasted: bySize(this.#largest, this.#top), repeated, view };
  }
}

function bySize(list: readonly WastedPath[], top: number): WastedPath[] {
  return [...list].sort((a, b) => b.size - a.size || Buffer.compare(a.path, b.path)).slice(0, top);
}
