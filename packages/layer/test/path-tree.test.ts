import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { childNode, PathTree } from "@strata-oci/layer";

// Long names make paths long enough (128 bytes) for the walk's cache of the last path.
const name = fc.constantFrom(
  "a",
  "b",
  "A",
  "é",
  "\u00ff",
  "x y",
  "..a",
  "L".repeat(70),
  "M".repeat(100),
);
const path = fc
  .array(name, { minLength: 0, maxLength: 5 })
  .map((parts) => Buffer.from(parts.join("/"), "latin1"));
const op = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), path, value: fc.integer() }),
  fc.record({ kind: fc.constant("delete" as const), path }),
  fc.record({ kind: fc.constant("clear" as const) }),
);

describe("PathTree", () => {
  it("behaves as a map keyed by the whole path (against a Map)", () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 60 }),
        fc.array(path, { maxLength: 10 }),
        (ops, probes) => {
          const tree = new PathTree<number>();
          const model = new Map<string, number>();
          for (const o of ops) {
            if (o.kind === "set") {
              tree.set(o.path, o.value);
              model.set(o.path.toString("latin1"), o.value);
            } else if (o.kind === "delete") {
              expect(tree.delete(o.path)).toBe(model.delete(o.path.toString("latin1")));
            } else {
              tree.clear();
              model.clear();
            }
          }
          for (const probe of probes) {
            expect(tree.get(probe)).toBe(model.get(probe.toString("latin1")));
            expect(tree.has(probe)).toBe(model.has(probe.toString("latin1")));
          }
          const visited: string[] = [];
          tree.forEachChildrenFirst((value, pathOf) => {
            const key = pathOf().toString("latin1");
            expect(value).toBe(model.get(key));
            // Every path below this one was visited before it.
            for (const other of model.keys()) {
              if (key === "" ? other !== "" : other.startsWith(`${key}/`))
                expect(visited).toContain(other);
            }
            visited.push(key);
          });
          expect(visited.sort()).toEqual([...model.keys()].sort());
        },
      ),
      { numRuns: 300 },
    );
  });

  it("finds names whose hashes collide (FNV-1a, 30 bits) by name", () => {
    // Brute-force two 3-letter names with the same 30-bit hash.
    const hash = (s: string) => {
      let h = 0x811c9dc5;
      for (const c of Buffer.from(s, "latin1")) h = Math.imul(h ^ c, 16777619);
      return h & 0x3fffffff;
    };
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined && i < 1 << 24; i++) {
      const s = i.toString(36);
      const h = hash(s);
      const other = seen.get(h);
      if (other !== undefined) pair = [other, s];
      else seen.set(h, s);
    }
    if (pair === undefined) throw new Error("no collision found");
    const tree = new PathTree<string>();
    tree.set(Buffer.from(`d/${pair[0]}`), "first");
    expect(tree.get(Buffer.from(`d/${pair[1]}`))).toBeUndefined();
    tree.set(Buffer.from(`d/${pair[1]}`), "second");
    expect(tree.get(Buffer.from(`d/${pair[0]}`))).toBe("first");
    expect(tree.get(Buffer.from(`d/${pair[1]}`))).toBe("second");
    expect(childNode(tree.node(Buffer.from("d")), Buffer.from(pair[1]))?.value).toBe("second");
  });

  it(
    "tells apart two names of one length and one 30-bit hash (a hash hit of the right length " +
      "is still compared byte by byte)",
    async () => {
      const { sameLengthCollision } = await import("../../../test/hostile/corpus.js");
      const [a, b] = sameLengthCollision();
      expect(a.length).toBe(b.length);
      const tree = new PathTree<string>();
      tree.set(Buffer.from(`d/${a}`), "a");
      expect(tree.get(Buffer.from(`d/${b}`))).toBeUndefined();
      expect(tree.has(Buffer.from(`d/${b}/x`))).toBe(false);
      tree.set(Buffer.from(`d/${b}`), "b");
      expect([tree.get(Buffer.from(`d/${a}`)), tree.get(Buffer.from(`d/${b}`))]).toEqual([
        "a",
        "b",
      ]);
      expect(childNode(tree.node(Buffer.from("d")), Buffer.from(b))?.value).toBe("b");
    },
  );

  it("keeps names byte-exact (non-UTF-8 bytes are distinct names)", () => {
    const tree = new PathTree<string>();
    tree.set(Buffer.from([0x64, 0x2f, 0xff]), "ff");
    tree.set(Buffer.from([0x64, 0x2f, 0xfe]), "fe");
    expect(tree.get(Buffer.from([0x64, 0x2f, 0xff]))).toBe("ff");
    expect(tree.get(Buffer.from([0x64, 0x2f, 0xfe]))).toBe("fe");
    expect(childNode(tree.node(Buffer.from("d")), Buffer.from([0xff]))?.value).toBe("ff");
  });

  it("stores a shared prefix once: 20,000 paths of 4 KB hold far less than 80 MB", () => {
    const prefix = `${"d".repeat(200)}/`.repeat(19);
    const before = process.memoryUsage().heapUsed;
    const tree = new PathTree<true>();
    for (let i = 0; i < 20_000; i++) tree.set(Buffer.from(`${prefix}f${i}`), true);
    const grown = process.memoryUsage().heapUsed - before;
    expect(tree.get(Buffer.from(`${prefix}f19999`))).toBe(true);
    // Whole-path keys would hold 20,000 x 3.8 KB = 76 MB.
    expect(grown).toBeLessThan(20 << 20);
  });

  it(
    "visits a chain of 2,000 nested directories (as deep as a 4 KB path goes) " + "deepest first",
    () => {
      const tree = new PathTree<number>();
      const deepest = Buffer.from(Array.from({ length: 2000 }, () => "a").join("/"));
      for (let i = 0; i < 2000; i++) tree.set(deepest.subarray(0, 2 * i + 1), i);
      const order: number[] = [];
      tree.forEachChildrenFirst((value) => order.push(value));
      expect(order.length).toBe(2000);
      expect(order[0]).toBe(1999);
      expect(order.at(-1)).toBe(0);
    },
  );
});
