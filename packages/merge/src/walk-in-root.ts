// The one walk of a path inside a root that the product's targets share
// (the disk target on disk, the merged tree in memory): `.` dropped, `..`
// stopping at the root, symlinks followed with absolute targets taken from
// the root, at most MAX_SYMLINK_FOLLOWS symlinks and MAX_RESOLVE_STEPS
// components. What a name is, and how a missing directory is made, is the
// tree's (`WalkSteps`). The reference model has its own walk on purpose: it
// is the judge of this one.
import { displayPath, splitPath, type EntryPath } from "@strata-oci/layer";
import { BadEntryError } from "@strata-oci/errors";

/** Symlinks one resolution may follow: the kernel's own bound (ELOOP). */
export const MAX_SYMLINK_FOLLOWS = 40;

/**
 * Components one resolution may walk, symlink targets included: 40 symlinks
 * of up to 4 KiB can still expand to ~80k components, and chains of them,
 * resolved again for every entry, ran for minutes (issue #9).
 */
export const MAX_RESOLVE_STEPS = 4096;

/** What a name is inside a directory of the tree. */
export type Found<T> =
  | { readonly kind: "missing" }
  | { readonly kind: "dir"; readonly node: T }
  | { readonly kind: "symlink"; readonly node: T; readonly target: Buffer }
  | { readonly kind: "other"; readonly node: T; readonly what: string };

/** What the walk asks of the tree it walks. */
export interface WalkSteps<T> {
  /** What `name` is inside the last directory of `stack` (the root first). */
  look(stack: readonly T[], name: Buffer): Found<T>;
  /** Makes the missing directory `name` inside the last directory of `stack`. */
  make?(stack: readonly T[], name: Buffer): T;
}

export interface WalkHow {
  /**
   * "parents": every component is a directory to pass through (a parent's
   * resolution). "path": the last component is the entry itself, any kind,
   * a symlink there followed only with `followLast`.
   */
  readonly mode: "parents" | "path";
  readonly followLast?: boolean;
  /** Make missing directories (`make`); else a missing one ends the walk (undefined). */
  readonly create?: boolean;
  /**
   * A component that is no directory is STRATA_PARENT_NOT_DIRECTORY; else the walk ends
   * (undefined).
   */
  readonly strict?: boolean;
}

const isDot = (part: Buffer): boolean => part.length === 1 && part[0] === 0x2e;
const isDotDot = (part: Buffer): boolean =>
  part.length === 2 && part[0] === 0x2e && part[1] === 0x2e;

/**
 * Walks `path` (shown in errors) from `root`: the nodes from the root to the result, or undefined
 * where it ends early.
 */
export function walkInRoot<T>(
  root: T,
  path: EntryPath,
  steps: WalkSteps<T>,
  how: WalkHow,
): T[] | undefined {
  return walkComponents(root, splitPath(path), steps, how, path);
}

/** walkInRoot over components already split (a parent's, say); `shown` names the path in errors. */
export function walkComponents<T>(
  root: T,
  components: readonly Buffer[],
  steps: WalkSteps<T>,
  how: WalkHow,
  shown: EntryPath,
): T[] | undefined {
  // The components still to walk, the next on top: a symlink's target goes on top.
  const pending = [...components].reverse();
  const stack: T[] = [root];
  let follows = 0;
  let walked = 0;
  while (pending.length > 0) {
    if (++walked > MAX_RESOLVE_STEPS) {
      throw new BadEntryError(
        "STRATA_SYMLINK_LOOP",
        `resolving ${displayPath(shown)} walks more than ` +
          `${MAX_RESOLVE_STEPS} components through symlinks`,
        {
          hint: "the layer chains symlinks to make path resolution slow; do not use this image",
        },
      );
    }
    const part = pending.pop() as Buffer;
    if (isDot(part)) continue;
    if (isDotDot(part)) {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const found = steps.look(stack, part);
    const leaf = how.mode === "path" && pending.length === 0;
    if (found.kind === "missing") {
      if (how.create !== true || steps.make === undefined) return undefined;
      stack.push(steps.make(stack, part));
    } else if (found.kind === "symlink" && !(leaf && how.followLast !== true)) {
      if (++follows > MAX_SYMLINK_FOLLOWS)
        throw new BadEntryError(
          "STRATA_SYMLINK_LOOP",
          `too many symlinks resolving ${displayPath(shown)}`,
        );
      if (found.target[0] === 0x2f) stack.length = 1;
      pending.push(...splitPath(found.target).reverse());
    } else if (found.kind === "dir" || leaf) {
      stack.push(found.node);
    } else if (how.strict === true) {
      throw new BadEntryError(
        "STRATA_PARENT_NOT_DIRECTORY",
        `a parent of ${displayPath(shown)} is ` +
          `${found.kind === "other" ? found.what : "a symlink"}, not a directory`,
      );
    } else {
      return undefined;
    }
  }
  return stack;
}
