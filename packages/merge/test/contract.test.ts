import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { TarMember } from "@strata-oci/layer";
import { encodeRootlessOwner, ROOTLESS_OWNER_XATTR } from "@strata-oci/merge";
import { diffSnapshots, type SnapshotNode, type TreeSnapshot } from "@strata-oci/testing";
import {
  diskOutcome,
  modelOutcome,
  PRIVILEGED,
  type Outcome,
} from "../../../test/support/layers.js";

const T = 1_600_000_000;
const dir = (name: string, extra: Partial<TarMember> = {}): TarMember => ({
  name,
  type: "dir",
  mtime: T,
  ...extra,
});
const file = (name: string, data = name, extra: Partial<TarMember> = {}): TarMember => ({
  name,
  type: "file",
  data,
  mtime: T,
  ...extra,
});
const symlink = (name: string, target: string): TarMember => ({
  name,
  type: "symlink",
  linkname: target,
  mtime: T,
});
const hardlink = (name: string, target: string): TarMember => ({
  name,
  type: "hardlink",
  linkname: target,
  mtime: T,
});
const whiteout = (name: string): TarMember => ({ name, type: "file", mtime: T });

/** Runs the layers through the reference model and the disk target; they must agree. */
async function both(layers: TarMember[][], policy = PRIVILEGED): Promise<Outcome> {
  const model = await modelOutcome(layers, policy);
  const disk = await diskOutcome(layers, policy, { chunkSize: 97 });
  if (model.ok && disk.ok) expect(diffSnapshots(model.snapshot, disk.snapshot)).toEqual([]);
  else expect(disk).toEqual(model);
  return model;
}

async function tree(layers: TarMember[][], policy = PRIVILEGED): Promise<TreeSnapshot> {
  const result = await both(layers, policy);
  if (!result.ok) throw new Error(`unexpected failure ${result.code}`);
  return result.snapshot;
}

async function failure(layers: TarMember[][]): Promise<string> {
  const result = await both(layers);
  if (result.ok) throw new Error("expected a failure");
  return result.code;
}

function node(snapshot: TreeSnapshot, path: string): SnapshotNode | undefined {
  return snapshot.get(path);
}

function content(snapshot: TreeSnapshot, path: string, data: string): boolean {
  return node(snapshot, path)?.sha256 === createHash("sha256").update(data).digest("hex");
}

describe("rule 1: order: layers[0] applies first", () => {
  it("a later layer's file replaces an earlier one", async () => {
    const t = await tree([[file("a", "first")], [file("a", "second")]]);
    expect(content(t, "a", "second")).toBe(true);
  });
});

describe("rule 2: names", () => {
  it("strips leading / and ./ and resolves inner .. lexically", async () => {
    const t = await tree([[file("/abs"), file("./dot"), file("x/../inner")]]);
    expect([...t.keys()].sort()).toEqual(["", "abs", "dot", "inner"]);
  });
  it("refuses a name that climbs above the root", async () => {
    expect(await failure([[file("../escape")]])).toBe("STRATA_UNSAFE_PATH");
    expect(await failure([[file("a/../../escape")]])).toBe("STRATA_UNSAFE_PATH");
  });
  it("an entry for the root sets the root's attributes", async () => {
    const t = await tree([[dir("./", { mode: 0o711, mtime: 1234 }), file("a")]]);
    expect(node(t, "")).toMatchObject({ kind: "dir", mode: 0o711, mtime: 1234 });
  });
  it("refuses a root entry that is not a directory", async () => {
    expect(await failure([[file(".")]])).toBe("STRATA_ROOT_NOT_DIRECTORY");
    expect(await failure([[symlink("/", "/etc")]])).toBe("STRATA_ROOT_NOT_DIRECTORY");
  });
  it("keeps non-UTF-8 names byte for byte", async () => {
    const t = await tree([
      [{ name: Buffer.from([0x6e, 0xe9, 0xff]), type: "file", data: "x", mtime: T }],
    ]);
    expect(t.has(Buffer.from([0x6e, 0xe9, 0xff]).toString("latin1"))).toBe(true);
  });
});

describe("rule 3: parents resolve inside the root, fresh for each entry", () => {
  it("follows a relative symlink in a parent", async () => {
    const t = await tree([[dir("real"), symlink("link", "real")], [file("link/f", "via link")]]);
    expect(content(t, "real/f", "via link")).toBe(true);
  });
  it("takes an absolute symlink target from the root", async () => {
    const t = await tree([[dir("real"), symlink("abs", "/real")], [file("abs/f")]]);
    expect(node(t, "real/f")?.kind).toBe("file");
  });
  it("stops .. at the root: a climbing symlink stays inside", async () => {
    const t = await tree([
      [symlink("up", "../../../../"), symlink("esc", "/../../tmp")],
      [file("up/f"), file("esc/shadow", "inside")],
    ]);
    expect(node(t, "f")?.kind).toBe("file");
    expect(node(t, "esc")?.kind).toBe("symlink");
    expect(content(t, "tmp/shadow", "inside")).toBe(true);
  });
  it(
    "never caches: a directory turned into a symlink within one layer redirects " + "later entries",
    async () => {
      const t = await tree([[dir("d"), file("d/x"), dir("e"), symlink("d", "e"), file("d/y")]]);
      expect(node(t, "d")?.kind).toBe("symlink");
      expect(node(t, "e/y")?.kind).toBe("file");
      expect(node(t, "d/x")).toBeUndefined();
    },
  );
  it("a symlink to . or .. in a parent resolves to the right directory", async () => {
    const t = await tree([
      [dir("x"), symlink("x/l", "."), symlink("x/up", "..")],
      [file("x/l/f", "dot"), file("x/up/g", "dotdot")],
    ]);
    expect(content(t, "x/f", "dot")).toBe(true);
    expect(content(t, "g", "dotdot")).toBe(true);
  });
  it("creates missing parents as 0755 directories", async () => {
    const t = await tree([[file("a/b/c")]]);
    expect(node(t, "a")).toMatchObject({ kind: "dir", mode: 0o755 });
    expect(node(t, "a/b")).toMatchObject({ kind: "dir", mode: 0o755 });
  });
  it("refuses a parent that is a file", async () => {
    expect(await failure([[file("a")], [file("a/b")]])).toBe("STRATA_PARENT_NOT_DIRECTORY");
  });
  it("refuses a symlink loop", async () => {
    expect(await failure([[symlink("a", "b"), symlink("b", "a")], [file("a/x")]])).toBe(
      "STRATA_SYMLINK_LOOP",
    );
  });
});

describe("rule 4: replacement", () => {
  it("a directory over a directory keeps the contents and takes the new attributes", async () => {
    const t = await tree([
      [dir("d", { mode: 0o700 }), file("d/keep")],
      [dir("d", { mode: 0o751, uid: 7 })],
    ]);
    expect(node(t, "d")).toMatchObject({ mode: 0o751, uid: 7 });
    expect(node(t, "d/keep")?.kind).toBe("file");
  });
  it("a file over a directory removes the directory and its contents", async () => {
    const t = await tree([[dir("d"), file("d/gone")], [file("d", "now a file")]]);
    expect(node(t, "d")?.kind).toBe("file");
    expect(node(t, "d/gone")).toBeUndefined();
  });
  it("a file over a symlink replaces the link and never writes through it", async () => {
    const t = await tree([
      [file("target", "original"), symlink("link", "target")],
      [file("link", "new")],
    ]);
    expect(content(t, "target", "original")).toBe(true);
    expect(content(t, "link", "new")).toBe(true);
  });
  it("a file over a hardlink replaces the name and leaves the other name's data", async () => {
    const t = await tree([[file("a", "shared"), hardlink("b", "a")], [file("b", "new")]]);
    expect(content(t, "a", "shared")).toBe(true);
    expect(node(t, "a")?.links).toEqual([]);
  });
  it("a directory over a symlink to a directory replaces the link", async () => {
    const t = await tree([
      [dir("real"), file("real/x"), symlink("l", "real")],
      [dir("l", { mode: 0o700 })],
    ]);
    expect(node(t, "l")).toMatchObject({ kind: "dir", mode: 0o700 });
    expect(node(t, "real")).toMatchObject({ kind: "dir", mode: 0o755 });
  });
  it("a path twice in one layer: the later entry wins", async () => {
    const t = await tree([[file("dup", "one"), file("dup", "two")]]);
    expect(content(t, "dup", "two")).toBe(true);
  });
});

describe("rule 5: whiteouts", () => {
  it(".wh.NAME removes the lower NAME, recursively", async () => {
    const t = await tree([
      [dir("d"), file("d/a"), dir("d/sub"), file("d/sub/x")],
      [whiteout("d/.wh.sub"), whiteout("d/.wh.a")],
    ]);
    expect([...t.keys()].sort()).toEqual(["", "d"]);
  });
  it("an opaque directory loses every lower child and keeps itself", async () => {
    const t = await tree([
      [dir("d", { mode: 0o750 }), file("d/a"), dir("d/s"), file("d/s/b")],
      [whiteout("d/.wh..wh..opq")],
    ]);
    expect([...t.keys()].sort()).toEqual(["", "d"]);
    expect(node(t, "d")?.mode).toBe(0o750);
  });
  for (const position of ["before", "after"] as const) {
    it(`an entry the same layer writes survives its whiteout (whiteout ${position})`, async () => {
      const entries = [file("d/new", "upper"), dir("d/sub"), file("d/sub/upper")];
      const marks = [whiteout("d/.wh..wh..opq"), whiteout("d/.wh.sub")];
      const upper = position === "before" ? [...marks, ...entries] : [...entries, ...marks];
      const t = await tree([[dir("d"), file("d/old"), dir("d/sub"), file("d/sub/lower")], upper]);
      expect([...t.keys()].sort()).toEqual(["", "d", "d/new", "d/sub", "d/sub/upper"]);
    });
  }
  it("a whiteout of a missing path does nothing and creates no parents", async () => {
    const t = await tree([[file("a")], [whiteout("x/y/.wh.z"), whiteout(".wh.nothing")]]);
    expect([...t.keys()].sort()).toEqual(["", "a"]);
  });
  it("a whiteout below a symlink does nothing (never resolved through a link)", async () => {
    const t = await tree([
      [dir("real"), file("real/inner"), symlink("link", "real")],
      [whiteout("link/.wh.inner"), whiteout("link/.wh..wh..opq")],
    ]);
    expect(node(t, "real/inner")?.kind).toBe("file");
  });
  it(
    "umoci 0.4.7's dir2link/.wh.inner after turning dir2link into a symlink deletes nothing " +
      "behind it",
    async () => {
      const t = await tree([
        [dir("dir2link"), file("dir2link/inner"), dir("other"), file("other/inner")],
        [symlink("dir2link", "other"), whiteout("dir2link/.wh.inner")],
      ]);
      expect(node(t, "other/inner")?.kind).toBe("file");
      expect(node(t, "dir2link")?.kind).toBe("symlink");
    },
  );
  for (const name of [".wh.", ".wh..", ".wh..."]) {
    it(`refuses the bad whiteout ${name}`, async () => {
      expect(await failure([[file("a")], [whiteout(`d/${name}`)]])).toBe("STRATA_BAD_WHITEOUT");
    });
  }
  it("skips aufs metadata (.wh..wh.plnk) and never writes whiteout entries", async () => {
    const t = await tree([[dir(".wh..wh.plnk"), file(".wh..wh.aufs"), file("a")]]);
    expect([...t.keys()].sort()).toEqual(["", "a"]);
  });
  it("a name that only starts like the opaque marker is a plain whiteout", async () => {
    const t = await tree([
      [dir("d"), file("d/.wh..opqX"), file("d/keep")],
      [whiteout("d/.wh..wh..opqX")],
    ]);
    expect(node(t, "d/keep")?.kind).toBe("file");
  });
});

describe("rule 6: hardlinks", () => {
  it("links to a file from a lower layer", async () => {
    const t = await tree([[file("a", "data")], [hardlink("b", "a")]]);
    expect(node(t, "b")?.links).toEqual(["a"]);
    expect(content(t, "b", "data")).toBe(true);
  });
  it("resolves the target's parents through symlinks inside the root", async () => {
    const t = await tree([
      [dir("real"), file("real/f"), symlink("l", "/real")],
      [hardlink("h", "l/f")],
    ]);
    expect(node(t, "h")?.links).toEqual(["real/f"]);
  });
  it("links a symlink itself, not what it points to", async () => {
    const t = await tree([[file("t"), symlink("s", "t"), hardlink("h", "s")]]);
    expect(node(t, "h")?.kind).toBe("symlink");
  });
  it("refuses a missing target", async () => {
    expect(await failure([[hardlink("h", "nope")]])).toBe("STRATA_BAD_HARDLINK");
  });
  it("refuses a directory target", async () => {
    expect(await failure([[dir("d"), hardlink("h", "d")]])).toBe("STRATA_BAD_HARDLINK");
  });
  it("refuses a target outside the root", async () => {
    expect(await failure([[hardlink("h", "../../etc/passwd")]])).toBe("STRATA_UNSAFE_PATH");
  });
  it("a target whited out earlier in the same layer is gone", async () => {
    expect(await failure([[file("a")], [whiteout(".wh.a"), hardlink("h", "a")]])).toBe(
      "STRATA_BAD_HARDLINK",
    );
  });
});

describe("rule 7: attributes", () => {
  it("setuid and setgid survive because chown comes first", async () => {
    const t = await tree([[file("su", "x", { mode: 0o6755, uid: 1000, gid: 1000 })]]);
    expect(node(t, "su")).toMatchObject({ mode: 0o6755, uid: 1000, gid: 1000 });
  });
  // mkdir and open under a setgid directory take its group (and mkdir its
  // setgid bit): what strata creates is owned explicitly (issue #9).
  it(
    "under a setgid directory, implied parents are 0:0 0755 and a root file " + "keeps group 0",
    async () => {
      const t = await tree([
        [dir("s", { mode: 0o2775, gid: 50 })],
        [file("s/new/deep/f", "x"), file("s/g", "x")],
      ]);
      expect(node(t, "s")).toMatchObject({ mode: 0o2775, gid: 50 });
      expect(node(t, "s/new")).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
      expect(node(t, "s/new/deep")).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
      expect(node(t, "s/g")).toMatchObject({ uid: 0, gid: 0 });
    },
  );
  it("keeps xattrs, an empty value included", async () => {
    const t = await tree([
      [
        file("f", "x", {
          xattrs: {
            "user.empty": "",
            "trusted.k": Buffer.from([0, 1]),
            "security.capability": Buffer.from("0100000200040000000000000000000000000000", "hex"),
          },
        }),
      ],
    ]);
    expect(node(t, "f")?.xattrs).toEqual([
      "security.capability=0100000200040000000000000000000000000000",
      "trusted.k=0001",
      "user.empty=",
    ]);
  });
  it("a directory over a directory replaces its xattrs", async () => {
    const t = await tree([
      [dir("d", { xattrs: { "user.old": "1" } })],
      [dir("d", { xattrs: { "user.new": "2" } })],
    ]);
    expect(node(t, "d")?.xattrs).toEqual(["user.new=32"]);
  });
  it("directory times are set after their children are written", async () => {
    const t = await tree([[dir("d", { mtime: 1000 })], [file("d/child", "x", { mtime: 5000 })]]);
    expect(node(t, "d")?.mtime).toBe(1000);
    expect(node(t, "d/child")?.mtime).toBe(5000);
  });
  it("symlinks keep their own time", async () => {
    const t = await tree([[file("t"), { ...symlink("s", "t"), mtime: 4242 }]]);
    expect(node(t, "s")?.mtime).toBe(4242);
  });
});

describe("rule 8: devices and fifos", () => {
  it("are created when privileged", async () => {
    const t = await tree([
      [
        { name: "null", type: "char", devMajor: 1, devMinor: 3, mode: 0o666, mtime: T },
        { name: "fifo", type: "fifo", mode: 0o600, mtime: T },
      ],
    ]);
    expect(node(t, "null")).toMatchObject({ kind: "char", device: "1:3", mode: 0o666 });
    expect(node(t, "fifo")).toMatchObject({ kind: "fifo", mode: 0o600 });
  });
  it(
    "rootless: devices become empty files, fifos stay fifos, owners are recorded in " +
      "user.rootlesscontainers",
    async () => {
      const rootless = { privileged: false, uid: 0, gid: 0 };
      const t = await tree(
        [
          [
            { name: "null", type: "char", devMajor: 1, devMinor: 3, mode: 0o666, mtime: T },
            { name: "p", type: "fifo", mtime: T },
            file("owned", "x", { uid: 1000, gid: 50 }),
          ],
        ],
        rootless,
      );
      expect(node(t, "null")).toMatchObject({ kind: "file", size: 0, mode: 0o666, uid: 0 });
      expect(node(t, "p")?.kind).toBe("fifo");
      const record = encodeRootlessOwner(1000, 50)?.toString("hex");
      expect(node(t, "owned")?.xattrs).toEqual([`${ROOTLESS_OWNER_XATTR}=${record}`]);
      expect(node(t, "owned")?.uid).toBe(0);
    },
  );
});
