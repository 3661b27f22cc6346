import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeTar } from "@strata-oci/layer";
import { writeOciLayout } from "@strata-oci/image";
import { HOSTILE_CASES, type CaseContext, type HostileCase } from "./corpus.js";
import { canaryChanges, listing, makeSandbox, plantCanaries } from "./sandbox.js";

const BIN = join(import.meta.dirname, "..", "..", "packages", "strata", "bin", "strata.js");

// A canary directory at an absolute location outside every sandbox, named by
// the cases that aim absolute symlinks and hardlinks at it.
const outsideRoot = mkdtempSync(join(tmpdir(), "strata-outside-"));
const outside = join(outsideRoot, "canary");
const outsideCanaries = plantCanaries([outside]);
afterAll(() => rmSync(outsideRoot, { recursive: true, force: true }));

/**
 * The case's image written into the sandbox (and damaged as the case says), and what lies around it
 * before the run.
 */
function prepare(
  box: ReturnType<typeof makeSandbox>,
  c: HostileCase,
  ctx: CaseContext,
): { root: string[]; work: string[]; outside: string[] } {
  writeOciLayout(box.layout, {
    layers: c.layers(ctx).map((members) => ({ tar: writeTar(members) })),
    tag: "evil",
  });
  c.damage?.(box.layout);
  return { root: listing(box.root), work: listing(box.work), outside: listing(outsideRoot) };
}

/** Nothing above the work directory, outside the sandbox, or among the canaries changed. */
function expectUntouched(
  box: ReturnType<typeof makeSandbox>,
  before: { root: string[]; outside: string[] },
): void {
  expect(listing(box.root)).toEqual(before.root);
  expect(listing(outsideRoot)).toEqual(before.outside);
  expect(canaryChanges(box.canaries)).toEqual([]);
  expect(canaryChanges(outsideCanaries)).toEqual([]);
}

function strata(
  args: readonly string[],
  command: readonly string[] = ["unpack", "--quiet"],
): { status: number | null; stderr: string } {
  // A timeout turns a hang (issue #9: spinning on a bad PAX size, blocking on a FIFO) into a
  // failure.
  const result = spawnSync(process.execPath, [BIN, ...command, ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe(
  "hostile corpus: every case ends in its typed error or a contained result, with " +
    "nothing touched outside DEST",
  () => {
    const ctx: CaseContext = { outside };
    for (const c of HOSTILE_CASES) {
      it(c.name, () => {
        const box = makeSandbox();
        try {
          const before = prepare(box, c, ctx);
          const { status, stderr } = strata([
            ...(c.flags ?? []),
            `oci:${box.layout}:evil`,
            box.dest,
          ]);
          // Structural: no case may end in an internal error (a stack trace).
          expect(stderr).not.toContain("internal error");
          if (c.expect === "contained") {
            expect(stderr).toBe("");
            expect(status).toBe(0);
            c.check?.(box.dest, ctx);
            expect(listing(box.work)).toEqual([...before.work, "dest"].sort());
          } else {
            expect(stderr).toContain(`code: ${c.expect}`);
            expect(status).toBe(1);
            // After a failure: no DEST and no staging directory left behind.
            expect(listing(box.work)).toEqual(before.work);
          }
          expectUntouched(box, before);
        } finally {
          box.remove();
        }
      });
    }
  },
);

// Issue #12: the same corpus into the layer store. A contained case is then
// mounted by the kernel (as root) on DEST and checked there, as the flat
// unpack's tree is above; a refused one leaves no layer in the store.
describe(
  "hostile corpus into the layer store: the same typed error or a contained result, " +
    "nothing touched outside the store",
  () => {
    const ctx: CaseContext = { outside };
    const root = process.geteuid?.() === 0;
    for (const c of HOSTILE_CASES) {
      it(c.name, () => {
        const box = makeSandbox();
        const store = join(box.work, "store");
        try {
          const before = prepare(box, c, ctx);
          const { status, stderr } = strata([
            ...(c.flags ?? []),
            "--store",
            store,
            `oci:${box.layout}:evil`,
          ]);
          expect(stderr).not.toContain("internal error");
          if (c.expect === "contained") {
            expect(stderr).not.toContain("code:");
            expect(status).toBe(0);
            if (root && c.check !== undefined) {
              mkdirSync(box.dest);
              const mounted = strata(
                ["--store", store, `oci:${box.layout}:evil`, box.dest],
                ["mount"],
              );
              expect(mounted.status, mounted.stderr).toBe(0);
              try {
                c.check(box.dest, ctx);
              } finally {
                spawnSync("umount", [box.dest]);
              }
            }
          } else {
            expect(stderr).toContain(`code: ${c.expect}`);
            expect(status).toBe(1);
            // Nothing half-written is left to be used: no layer under its name, no staging.
            const layers = existsSync(join(store, "layers"))
              ? readdirSync(join(store, "layers"))
              : [];
            const stored = layers.filter((hex) =>
              existsSync(join(store, "layers", hex, "layer.json")),
            );
            expect(stored.length).toBe(layers.length);
            expect(
              existsSync(join(store, "staging")) ? readdirSync(join(store, "staging")) : [],
            ).toEqual([]);
          }
          expectUntouched(box, before);
        } finally {
          box.remove();
        }
      });
    }
  },
);
