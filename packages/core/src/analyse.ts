// strata analyse: what each layer of an image adds, changes, removes and
// wastes, from the layers' headers alone (every blob read and verified, no
// file body kept, nothing unpacked), with the merged tree's rules: the same
// tree `ls` shows, so the figures are those of the image a runtime sees.
import type { Image } from "@strata-oci/image";
import {
  AnalysisLedger,
  type LayerFigures,
  type RepeatedPath,
  type WastedPath,
} from "./analysis-ledger.js";
import { summaryTree, type SummaryNode } from "./analysis-tree.js";
import { mergeLayers, type MergedTreeOptions } from "./merged.js";

export type { LayerFigures, RepeatedPath, WastedPath } from "./analysis-ledger.js";
export type { SummaryNode } from "./analysis-tree.js";

/** What the merged tree is read with (image, platform, registry, limits, signal, onProgress). */
export interface AnalyseOptions extends Omit<MergedTreeOptions, "onLayer"> {
  /** How many of the largest wasted and repeated paths to list (default 20). */
  readonly top?: number | undefined;
}

export interface LayerAnalysis extends LayerFigures {
  readonly index: number;
  readonly digest: string | undefined;
  readonly mediaType: string | undefined;
  /** The blob's size. */
  readonly compressedBytes: number;
  /** The history step that made it (created_by), where the config has one. */
  readonly createdBy: string | undefined;
}

export interface ImageAnalysis {
  readonly image: Image;
  readonly layers: readonly LayerAnalysis[];
  readonly totals: {
    readonly compressedBytes: number;
    readonly tarBytes: number;
    /** Bytes of every file of every layer. */
    readonly fileBytes: number;
    /** Bytes of the merged view's files (a hardlinked file once). */
    readonly keptBytes: number;
    /** fileBytes - keptBytes: bytes the layers carry that no one sees. */
    readonly wastedBytes: number;
    /** keptBytes / fileBytes (1 where there are no file bytes). */
    readonly efficiency: number;
    /** Paths in the merged view. */
    readonly entries: number;
  };
  /** The largest files hidden: who wrote them, who hid them. */
  readonly largestWasted: readonly WastedPath[];
  /** Paths written by several layers (or twice by one), most bytes first. */
  readonly repeated: readonly RepeatedPath[];
  /** The merged view's directories and large files, sizes and the layer each comes from. */
  readonly tree: SummaryNode;
}

/** The figures of `options.image`, from its layers' headers. */
export async function analyseImage(options: AnalyseOptions): Promise<ImageAnalysis> {
  let ledger: AnalysisLedger | undefined;
  const top = options.top ?? 20;
  const counting = (): AnalysisLedger => ledger as AnalysisLedger;
  const merged = await mergeLayers(options, {
    begin: (image) => {
      ledger = new AnalysisLedger(image.layers.length, top);
    },
    observer: {
      gaveWay: (entry, path, how) => counting().gaveWay(entry, path, how),
      linked: (entry) => counting().linked(entry),
    },
    entries: (index, entries) => counting().entries(index, entries),
    onTarBytes: (index, bytes) => counting().tarBytes(index, bytes),
  });
  try {
    const { image, tree } = merged;
    const { largestWasted, repeated, view } = counting().finish(tree);
    const history = historyOf(image);
    const layers = counting().layers.map((figures, index): LayerAnalysis => {
      const layer = image.layers[index];
      return {
        index,
        digest: layer?.digest,
        mediaType: layer?.mediaType,
        compressedBytes: layer?.size ?? 0,
        createdBy: history[index],
        ...figures,
      };
    });
    const sum = (pick: (layer: LayerAnalysis) => number): number =>
      layers.reduce((total, layer) => total + pick(layer), 0);
    const fileBytes = sum((l) => l.fileBytes);
    const keptBytes = sum((l) => l.keptBytes);
    return {
      image,
      layers,
      totals: {
        compressedBytes: sum((l) => l.compressedBytes),
        tarBytes: sum((l) => l.tarBytes),
        fileBytes,
        keptBytes,
        wastedBytes: fileBytes - keptBytes,
        efficiency: fileBytes === 0 ? 1 : keptBytes / fileBytes,
        entries: view.entries,
      },
      largestWasted,
      repeated,
      tree: summaryTree(tree, view),
    };
  } finally {
    merged.close();
  }
}

/** Each layer's history step: the entries of config.history that are not empty_layer, in order. */
function historyOf(image: Image): Array<string | undefined> {
  const history = Array.isArray(image.config.raw.history) ? image.config.raw.history : [];
  return history
    .filter((step): step is Record<string, unknown> => typeof step === "object" && step !== null)
    .filter((step) => step.empty_layer !== true)
    .map((step) => (typeof step.created_by === "string" ? step.created_by : undefined));
}
