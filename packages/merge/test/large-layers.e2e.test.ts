import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { RING_SIZE, type TarMember } from "@strata-oci/layer";
import { diffSnapshots } from "@strata-oci/testing";
import { diskOutcome, modelOutcome } from "../../../test/support/layers.js";

// Files larger than the reader's ring, and many whose bodies straddle the
// ring's chunks, so that the disk target writes some files at once and some
// partly at once and partly after waiting for the reader.
describe("layers larger than the reader's ring", () => {
  it("unpack to the same tree as the reference model, byte for byte", async () => {
    const members: TarMember[] = [{ name: "d/", type: "dir", mode: 0o755 }];
    for (let i = 0; i < 300; i++) {
      const size = i % 100 === 7 ? RING_SIZE + 4099 : (i * 7919) % 200_003;
      members.push({ name: `d/f${i}`, type: "file", mode: 0o644, data: randomBytes(size) });
    }
    const upper: TarMember[] = [
      { name: "d/f7", type: "file", mode: 0o600, data: randomBytes(3 * 65_536 + 1) },
      { name: "d/.wh.f8", type: "file" },
    ];
    const model = await modelOutcome([members, upper]);
    const disk = await diskOutcome([members, upper]);
    expect(model.ok && disk.ok).toBe(true);
    if (model.ok && disk.ok) expect(diffSnapshots(model.snapshot, disk.snapshot)).toEqual([]);
  });
});
