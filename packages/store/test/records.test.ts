import { describe, expect, it } from "vitest";
import { mountSource, mountsAt, parseMountSource } from "@strata-oci/store";
import { parseImageRecord, parseLayerRecord, parseMountRecord } from "../src/records.js";

const C = `sha256:${"a".repeat(64)}`;
const D = `sha256:${"b".repeat(64)}`;
const layer = {
  chainId: C,
  diffId: D,
  link: "AAAAAAAAAAAA",
  entries: 1,
  bytes: 2,
  whiteouts: 0,
  opaque: 0,
  copiedUp: 0,
};

describe("store records are validated values (#26.1)", () => {
  it("a layer record must name its own chain ID, a short link and counts", () => {
    expect(parseLayerRecord("f", layer, C)).toMatchObject({ chainId: C, parent: undefined });
    for (const bad of [
      { ...layer, chainId: D },
      { ...layer, link: "../../x" },
      { ...layer, entries: -1 },
      { ...layer, diffId: "sha256:xyz" },
      { ...layer, parent: "sha256:../.." },
    ]) {
      expect(() => parseLayerRecord("f", bad, C), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: "STRATA_STORE_DAMAGED" }),
      );
    }
  });

  it(
    "image and mount records: digests, names, absolute targets; a mount's id is given, " +
      "never read",
    () => {
      expect(
        parseImageRecord("f", { reference: "oci:/x:t", platform: "linux/amd64", chainIds: [C] })
          .chainIds,
      ).toEqual([C]);
      expect(() => parseImageRecord("f", { reference: "", chainIds: [C] })).toThrow(
        expect.objectContaining({ code: "STRATA_STORE_DAMAGED" }),
      );
      expect(() => parseImageRecord("f", { reference: "x", chainIds: ["../x"] })).toThrow(
        expect.objectContaining({ code: "STRATA_STORE_DAMAGED" }),
      );
      const mount = parseMountRecord(
        "f",
        { id: "../../../etc", target: "/mnt", reference: "x", writable: true, chainIds: [] },
        "BBBBBBBBBBBB",
      );
      expect(mount.id).toBe("BBBBBBBBBBBB");
      expect(() =>
        parseMountRecord(
          "f",
          { target: "relative", reference: "x", writable: true, chainIds: [] },
          "BBBBBBBBBBBB",
        ),
      ).toThrow(expect.objectContaining({ code: "STRATA_STORE_DAMAGED" }));
    },
  );

  it("a mount's source names its record and store, and nothing else parses as one", () => {
    const source = mountSource("/var/lib/strata", "CCCCCCCCCCCC");
    expect(parseMountSource(source)).toEqual({ id: "CCCCCCCCCCCC", store: "/var/lib/strata" });
    for (const other of [
      "tmpfs",
      "strata",
      "strata:short:/x",
      "strata:CCCCCCCCCCCC:relative",
      "overlay",
    ])
      expect(parseMountSource(other)).toBeUndefined();
  });

  it(
    "mountinfo lines are read with their escapes, the last mount at a point first " + "seen last",
    () => {
      const table = [
        "36 25 0:32 / /mnt/a\\040b rw,relatime shared:1 - tmpfs tmpfs rw",
        "37 36 0:33 / /mnt/a\\040b rw - overlay strata:CCCCCCCCCCCC:/s\\040t ro,lowerdir=l/x:l/y",
        "38 25 0:34 / /other rw - ext4 /dev/vda rw",
      ].join("\n");
      expect(mountsAt("/mnt/a b", table)).toEqual([
        { mountPoint: "/mnt/a b", fstype: "tmpfs", source: "tmpfs" },
        { mountPoint: "/mnt/a b", fstype: "overlay", source: "strata:CCCCCCCCCCCC:/s t" },
      ]);
    },
  );
});
