import fc from "fast-check";
import type { TarMember } from "@strata-oci/layer";

/** A small namespace so that random entries collide, replace and shadow each other. */
const component = fc.constantFrom("a", "b", "c");
export const relativePath = fc
  .array(component, { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join("/"));

const mode = fc.constantFrom(0o644, 0o755, 0o600, 0o4755, 0o2750, 0o1777);
const owner = fc.constantFrom(0, 1000);
const mtime = fc.constantFrom(1_000_000_000, 1_600_000_000, 1_700_000_123);
const xattrs = fc.option(
  fc.dictionary(
    fc.constantFrom("user.k", "user.e", "trusted.t"),
    fc.constantFrom("", "v", "\u0001\u0000x"),
  ),
  { nil: undefined },
);

const base = fc.record({ mode, uid: owner, gid: owner, mtime, xattrs });

function attributes(b: {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  xattrs: Record<string, string> | undefined;
}): Partial<TarMember> {
  return {
    mode: b.mode,
    uid: b.uid,
    gid: b.gid,
    mtime: b.mtime,
    ...(b.xattrs === undefined ? {} : { xattrs: b.xattrs }),
  };
}

const symlinkTarget = fc.oneof(
  relativePath,
  relativePath.map((p) => `/${p}`),
  relativePath.map((p) => `../${p}`),
  fc.constant("../../.."),
  fc.constant("/"),
);

function whiteoutName(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? `.wh.${path}` : `${path.slice(0, slash)}/.wh.${path.slice(slash + 1)}`;
}

/** One random member of any kind, hostile-ish but legal. */
export const anyMember: fc.Arbitrary<TarMember> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(relativePath, fc.string({ maxLength: 40 }), base)
      .map(([name, data, b]): TarMember => ({ name, type: "file", data, ...attributes(b) })),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(relativePath, base).map(([name, b]): TarMember => ({
      name: `${name}/`,
      type: "dir",
      ...attributes(b),
      mode: b.mode | 0o700,
    })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(relativePath, symlinkTarget, mtime).map(([name, target, t]): TarMember => ({
      name,
      type: "symlink",
      linkname: target,
      mtime: t,
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(relativePath, relativePath)
      .map(([name, target]): TarMember => ({ name, type: "hardlink", linkname: target })),
  },
  {
    weight: 2,
    arbitrary: relativePath.map((p): TarMember => ({ name: whiteoutName(p), type: "file" })),
  },
  {
    weight: 1,
    arbitrary: fc.option(relativePath, { nil: "" }).map((p): TarMember => ({
      name: p === "" ? ".wh..wh..opq" : `${p}/.wh..wh..opq`,
      type: "file",
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(relativePath, base)
      .map(([name, b]): TarMember => ({ name, type: "fifo", ...attributes(b) })),
  },
  // mknod needs root; without it the privileged runs would compare EPERM.
  ...(process.geteuid?.() === 0
    ? [
        {
          weight: 1,
          arbitrary: fc
            .tuple(relativePath, base, fc.constantFrom("char" as const, "block" as const))
            .map(([name, b, type]): TarMember => ({
              name,
              type,
              devMajor: 1,
              devMinor: 3,
              ...attributes(b),
            })),
        },
      ]
    : []),
);

export const anyLayer = fc.array(anyMember, { maxLength: 12 });
export const anyStack = fc.array(anyLayer, { minLength: 1, maxLength: 4 });

/**
 * A well-formed layer as a diffing producer writes it: directories and
 * files only, each parent present as a directory entry before its children.
 */
export const wellFormedLayer: fc.Arbitrary<TarMember[]> = fc
  .array(fc.tuple(relativePath, fc.boolean(), fc.string({ maxLength: 20 }), base), {
    maxLength: 10,
  })
  .map((items) => {
    const out: TarMember[] = [];
    const dirs = new Set<string>();
    const files = new Set<string>();
    for (const [path, isDir, data, b] of items) {
      const parts = path.split("/");
      let blocked = false;
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join("/");
        if (files.has(parent)) blocked = true;
        if (!blocked && !dirs.has(parent)) {
          dirs.add(parent);
          out.push({ name: `${parent}/`, type: "dir", mode: 0o755, mtime: b.mtime });
        }
      }
      if (blocked || dirs.has(path) || files.has(path)) continue;
      if (isDir) {
        dirs.add(path);
        out.push({ name: `${path}/`, type: "dir", ...attributes(b), mode: b.mode | 0o700 });
      } else {
        files.add(path);
        out.push({ name: path, type: "file", data, ...attributes(b) });
      }
    }
    return out;
  });

/** Whiteout and opaque markers for a well-formed layer. */
export const markers = fc.array(
  fc.oneof(
    relativePath.map((p): TarMember => ({ name: whiteoutName(p), type: "file" })),
    fc.option(relativePath, { nil: "" }).map((p): TarMember => ({
      name: p === "" ? ".wh..wh..opq" : `${p}/.wh..wh..opq`,
      type: "file",
    })),
  ),
  { maxLength: 4 },
);
