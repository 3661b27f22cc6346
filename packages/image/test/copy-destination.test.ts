// copyImage into a destination of the caller's own (#22.1): the order every
// destination is promised (each blob checked, then stored; the manifest once
// its blobs are in; the tag last), and the bytes it is given are the blobs'.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyImage, type BlobBody, type ImageDestination } from "@strata-oci/image";

const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;

async function bytesOf(body: BlobBody): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const parts: Buffer[] = [];
  for await (const part of (await body.open()) as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

describe("copyImage into the caller's own destination", () => {
  it("blobs first (checked, then stored with their own bytes), the manifest, the tag last", async () => {
    const calls: string[] = [];
    const stored = new Map<string, Buffer>();
    const destination: ImageDestination = {
      name: "memory",
      documents: "any",
      hasBlob: async (d) => (calls.push(`has ${d.digest.slice(7, 13)}`), stored.has(d.digest)),
      putBlob: async (d, body) => {
        const data = await bytesOf(body);
        calls.push(`put ${d.digest.slice(7, 13)}`);
        expect(`sha256:${createHash("sha256").update(data).digest("hex")}`).toBe(d.digest);
        stored.set(d.digest, data);
      },
      putManifest: async (d) => void calls.push(`manifest ${d.digest.slice(7, 13)}`),
      tag: async () => void calls.push("tag"),
    };
    const result = await copyImage({ image: SAMPLE, destination });
    expect(result).toMatchObject({ destination: "memory", sent: 4, present: 0, converted: false });
    const manifestAt = calls.indexOf(`manifest ${result.manifest.digest.slice(7, 13)}`);
    expect(calls.filter((c) => c.startsWith("put"))).toHaveLength(4);
    expect(calls.findLastIndex((c) => c.startsWith("put"))).toBeLessThan(manifestAt);
    expect(calls.at(-1)).toBe("tag");
    // Each blob asked about before it is stored.
    for (const put of calls.filter((c) => c.startsWith("put")))
      expect(calls.indexOf(`has ${put.slice(4)}`)).toBeLessThan(calls.indexOf(put));
  });
});
