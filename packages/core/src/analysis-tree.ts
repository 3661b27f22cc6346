// The merged view summarised for a picture: directories and files of at
// least 1/1000 of the view's bytes, each with its size and the layer its
// bytes come from (a directory: the layer with most bytes below it); what
// is smaller is folded into one "(smaller entries)" node per directory. One
// walk of the tree, one directory stack: memory follows the nodes kept, at
// most some thousands whatever the image.
import { isUtf8 } from "@strata-oci/layer";
import type { MergedEntry, MergedTree } from "@strata-oci/merge";
import type { ViewTotals } from "./analysis-ledger.js";

export interface SummaryNode {
  /** The last component ("" for the root); "(smaller entries)" for what was folded. */
  readonly name: string;
  /** From the root, with a leading slash; exact where it is UTF-8 (else with U+FFFD). */
  readonly path: string;
  /** The path's bytes (without the leading slash) in base64, only where they are not UTF-8. */
  readonly pathBase64?: string;
  readonly kind: "dir" | "file" | "folded";
  readonly size: number;
  /** The layer its bytes come from; for a directory or a fold, the one with most of them. */
  readonly layer: number;
  readonly children?: readonly SummaryNode[];
}

interface Frame {
  readonly name: string;
  readonly path: string;
  readonly pathBase64: string | undefined;
  readonly depth: number;
  readonly byLayer: number[];
  readonly folded: number[];
  readonly children: SummaryNode[];
}

const sumOf = (list: readonly number[]): number => list.reduce((a, b) => a + b, 0);
const largest = (list: readonly number[]): number =>
  list.reduce((best, bytes, layer) => (bytes > (list[best] ?? 0) ? layer : best), 0);

/** The summary of `tree`, whose totals the ledger counted (`view`). */
export function summaryTree(tree: MergedTree, totals: ViewTotals): SummaryNode {
  const threshold = Math.max(1, totals.bytes / 1000);
  const frame = (name: string, path: string, exact: Buffer, depth: number): Frame => ({
    name,
    path,
    pathBase64: isUtf8(exact) ? undefined : exact.toString("base64"),
    depth,
    byLayer: new Array<number>(totals.layers).fill(0),
    folded: new Array<number>(totals.layers).fill(0),
    children: [],
  });
  const stack: Frame[] = [frame("", "/", Buffer.alloc(0), 0)];
  const close = (): void => {
    const done = stack.pop() as Frame;
    const parent = stack.at(-1) as Frame;
    const size = sumOf(done.byLayer);
    done.byLayer.forEach(
      (bytes, layer) => (parent.byLayer[layer] = (parent.byLayer[layer] ?? 0) + bytes),
    );
    if (size >= threshold) parent.children.push(dirNode(done));
    else
      done.byLayer.forEach(
        (bytes, layer) => (parent.folded[layer] = (parent.folded[layer] ?? 0) + bytes),
      );
  };
  const seen = new WeakSet<MergedEntry>();
  for (const { path, entry } of tree.walk(undefined, false)) {
    if (path.length === 0) continue;
    const parts = path.toString("utf8").split("/");
    while (stack.length > parts.length) close();
    const parent = stack.at(-1) as Frame;
    const name = parts.at(-1) as string;
    const shown = `/${parts.join("/")}`;
    if (entry.kind === "dir") {
      stack.push(frame(name, shown, path, parts.length));
      continue;
    }
    const size = entry.kind === "file" && !seen.has(entry) ? entry.size : 0;
    if (entry.kind === "file") seen.add(entry);
    const layer = Math.max(0, entry.layer);
    parent.byLayer[layer] = (parent.byLayer[layer] ?? 0) + size;
    if (size >= threshold)
      parent.children.push({
        name,
        path: shown,
        ...(isUtf8(path) ? {} : { pathBase64: path.toString("base64") }),
        kind: "file",
        size,
        layer,
      });
    else parent.folded[layer] = (parent.folded[layer] ?? 0) + size;
  }
  while (stack.length > 1) close();
  return dirNode(stack[0] as Frame);
}

function dirNode(done: Frame): SummaryNode {
  const folded = sumOf(done.folded);
  const children = [...done.children];
  if (folded > 0)
    children.push({
      name: "(smaller entries)",
      path: `${done.path === "/" ? "" : done.path}/(smaller entries)`,
      kind: "folded",
      size: folded,
      layer: largest(done.folded),
    });
  children.sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : 1));
  return {
    name: done.name,
    path: done.path,
    ...(done.pathBase64 === undefined ? {} : { pathBase64: done.pathBase64 }),
    kind: "dir",
    size: sumOf(done.byLayer),
    layer: largest(done.byLayer),
    children,
  };
}
