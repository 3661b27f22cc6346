import { describe, expect, it } from "vitest";
import {
  DEFAULT_LAYER_LIMITS,
  readTar,
  writeTar,
  type TarMember,
  type TarRecord,
} from "@strata-oci/layer";

async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(
  data: Buffer,
  chunkSize = 1 << 20,
): Promise<Array<{ record: TarRecord; body: Buffer }>> {
  const out = [];
  for await (const record of readTar(chunks(data, chunkSize), DEFAULT_LAYER_LIMITS)) {
    const parts: Buffer[] = [];
    for await (const part of record.body) parts.push(Buffer.from(part));
    out.push({ record, body: Buffer.concat(parts) });
  }
  return out;
}

const members: TarMember[] = [
  { name: "etc/", type: "dir", mode: 0o755, mtime: 1_600_000_000 },
  {
    name: "etc/passwd",
    type: "file",
    data: "root:x:0:0::/root:/bin/sh\n",
    mode: 0o644,
    uid: 0,
    gid: 0,
  },
  { name: "bin/su", type: "file", data: "x".repeat(700), mode: 0o4755 },
  { name: "a/".repeat(60) + "deep", type: "file", data: "long name" },
  { name: "link", type: "symlink", linkname: "/" + "t".repeat(150) },
  { name: "hard", type: "hardlink", linkname: "etc/passwd" },
  { name: Buffer.from([0x66, 0xff, 0xfe]), type: "file", data: "latin1 name" },
  {
    name: "cap",
    type: "file",
    xattrs: { "security.capability": Buffer.from([1, 2, 0, 3]), "user.empty": "" },
  },
  { name: "big-ids", type: "file", uid: 70_000_000, gid: 3_000_000 },
  { name: "dev/null", type: "char", devMajor: 1, devMinor: 3, mode: 0o666 },
];

describe("readTar", () => {
  for (const chunkSize of [1, 7, 512, 1 << 20]) {
    it(
      `reads ustar, PAX, long names, xattrs and binary ` + `names in ${chunkSize}-byte chunks`,
      async () => {
        const got = await collect(writeTar(members), chunkSize);
        expect(got.map((g) => g.record.name.toString("latin1"))).toEqual(
          members.map((m) => (typeof m.name === "string" ? m.name : m.name.toString("latin1"))),
        );
        expect(got[1]?.body.toString()).toBe("root:x:0:0::/root:/bin/sh\n");
        expect(got[2]?.record.mode).toBe(0o4755);
        expect(got[2]?.body.length).toBe(700);
        expect(got[4]?.record.linkname.toString()).toBe("/" + "t".repeat(150));
        expect(got[5]?.record.typeflag).toBe("1");
        expect(got[7]?.record.xattrs.get("security.capability")).toEqual(Buffer.from([1, 2, 0, 3]));
        expect(got[7]?.record.xattrs.get("user.empty")).toEqual(Buffer.alloc(0));
        expect(got[8]?.record.uid).toBe(70_000_000);
        expect(got[9]?.record.devMajor).toBe(1);
        expect(got[9]?.record.devMinor).toBe(3);
      },
    );
  }

  it(
    "accepts umoci 0.4.7 layers: no end-of-archive blocks and no padding after the " + "last entry",
    async () => {
      const data = writeTar(
        [
          { name: "a", type: "file", data: "hello" },
          { name: "b", type: "file", data: "world!" },
        ],
        {
          endBlocks: false,
          padLast: false,
        },
      );
      expect(data.length).toBe(512 * 3 + 6);
      const got = await collect(data);
      expect(got.map((g) => g.body.toString())).toEqual(["hello", "world!"]);
    },
  );

  const truncations: Array<[string, (full: Buffer) => Buffer]> = [
    ["inside a header", (full) => full.subarray(0, 1024 + 100)],
    ["inside the last entry's data", (full) => full.subarray(0, 512 * 3 + 3)],
    [
      "after a PAX header, before its entry",
      () => writeTar([{ name: "x".repeat(200), type: "file" }]).subarray(0, 1024),
    ],
  ];
  for (const [name, cut] of truncations) {
    it(`refuses a layer truncated ${name}`, async () => {
      const full = writeTar([
        { name: "a", type: "file", data: "hello" },
        { name: "b", type: "file", data: "world!" },
      ]);
      await expect(collect(cut(full))).rejects.toMatchObject({ code: "STRATA_TRUNCATED_LAYER" });
    });
  }

  it("refuses a header with a bad checksum", async () => {
    const data = writeTar([{ name: "a", type: "file", data: "hello" }]);
    data[0] = 0x62;
    await expect(collect(data)).rejects.toMatchObject({ code: "STRATA_CORRUPT_LAYER" });
  });

  it("skips a body the consumer does not read", async () => {
    const data = writeTar([
      { name: "a", type: "file", data: "x".repeat(3000) },
      { name: "b", type: "file", data: "y" },
    ]);
    const names: string[] = [];
    for await (const record of readTar(chunks(data, 100), DEFAULT_LAYER_LIMITS))
      names.push(record.name.toString());
    expect(names).toEqual(["a", "b"]);
  });

  it("refuses a PAX header larger than maxHeaderSize", async () => {
    const data = writeTar([{ name: "x".repeat(300), type: "file" }]);
    const limits = { ...DEFAULT_LAYER_LIMITS, maxHeaderSize: 100 };
    const run = async () => {
      for await (const record of readTar(chunks(data, 512), limits)) void record;
    };
    await expect(run()).rejects.toMatchObject({ code: "STRATA_LIMIT_EXCEEDED" });
  });
});

/** Rewrites the typeflag of the first header in `tar` and fixes its checksum. */
function retype(tar: Buffer, typeflag: string): Buffer {
  const out = Buffer.from(tar);
  out.write(typeflag, 156, 1, "latin1");
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i] ?? 0;
  out.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return out;
}

describe("readTar: GNU extensions", () => {
  it("reads GNU long names ('L') and long link targets ('K')", async () => {
    const longName = "n/".repeat(80) + "file";
    const longLink = "t/".repeat(80) + "target";
    const nameHeader = retype(
      writeTar([{ name: "././@LongLink", type: "file", data: `${longName}\0` }], {
        endBlocks: false,
      }),
      "L",
    );
    const linkHeader = retype(
      writeTar([{ name: "././@LongLink", type: "file", data: `${longLink}\0` }], {
        endBlocks: false,
      }),
      "K",
    );
    const entry = writeTar([{ name: "short", type: "symlink", linkname: "short-target" }]);
    const got = await collect(Buffer.concat([nameHeader, linkHeader, entry]));
    expect(got).toHaveLength(1);
    expect(got[0]?.record.name.toString()).toBe(longName);
    expect(got[0]?.record.linkname.toString()).toBe(longLink);
  });

  it("refuses GNU sparse entries with a clear error", async () => {
    const sparse = retype(writeTar([{ name: "sparse", type: "file", data: "x" }]), "S");
    await expect(collect(sparse)).rejects.toMatchObject({ code: "STRATA_CORRUPT_LAYER" });
  });
});
