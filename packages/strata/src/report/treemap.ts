// A squarified treemap (Bruls, Huizing, van Wijk): each node's rectangle has
// an area in proportion to its size, children laid out in rows that keep
// the rectangles as square as they can be, down to `depth` levels.
import type { SummaryNode } from "@strata-oci/core";

export interface Tile {
  readonly node: SummaryNode;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The worst aspect ratio of a row of `areas` laid along a side of `side`. */
function worst(areas: readonly number[], side: number): number {
  const sum = areas.reduce((a, b) => a + b, 0);
  const max = Math.max(...areas);
  const min = Math.min(...areas);
  return Math.max((side * side * max) / (sum * sum), (sum * sum) / (side * side * min));
}

/** Lays `nodes` (sizes scaled to areas) into `box`, row by row. */
function squarify(nodes: readonly SummaryNode[], box: Box): Array<{ node: SummaryNode } & Box> {
  const total = nodes.reduce((sum, node) => sum + node.size, 0);
  if (total <= 0 || box.width <= 0 || box.height <= 0) return [];
  const scale = (box.width * box.height) / total;
  const out: Array<{ node: SummaryNode } & Box> = [];
  const free = { ...box };
  let row: SummaryNode[] = [];
  const place = (): void => {
    const areas = row.map((node) => node.size * scale);
    const sum = areas.reduce((a, b) => a + b, 0);
    const wide = free.width >= free.height;
    const thickness = sum / (wide ? free.height : free.width);
    let offset = 0;
    row.forEach((node, index) => {
      const length = (areas[index] as number) / thickness;
      out.push(
        wide
          ? { node, x: free.x, y: free.y + offset, width: thickness, height: length }
          : { node, x: free.x + offset, y: free.y, width: length, height: thickness },
      );
      offset += length;
    });
    if (wide) {
      free.x += thickness;
      free.width -= thickness;
    } else {
      free.y += thickness;
      free.height -= thickness;
    }
    row = [];
  };
  for (const node of nodes.filter((n) => n.size > 0)) {
    const side = Math.min(free.width, free.height);
    const areas = row.map((n) => n.size * scale);
    if (row.length > 0 && worst([...areas, node.size * scale], side) > worst(areas, side)) place();
    row.push(node);
  }
  if (row.length > 0) place();
  return out;
}

/** The tiles of `root`'s descendants, parents before children, `depth` levels deep. */
export function treemap(root: SummaryNode, box: Box, depth: number): Tile[] {
  const tiles: Tile[] = [];
  const visit = (node: SummaryNode, inside: Box, level: number): void => {
    for (const placed of squarify(node.children ?? [], inside)) {
      const { node: child, ...at } = placed;
      tiles.push({ node: child, ...at, depth: level });
      // A directory's children inside it, below a strip for its name.
      if (level < depth && child.children !== undefined && at.width > 24 && at.height > 30)
        visit(
          child,
          { x: at.x + 2, y: at.y + 16, width: at.width - 4, height: at.height - 18 },
          level + 1,
        );
    }
  };
  visit(root, box, 1);
  return tiles;
}
