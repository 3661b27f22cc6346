// Issue #26: the fuzzers reach the new surfaces. The layer store's own
// records, a tree record, and a registry's answers, each damaged at random:
// every run ends in a result or a StrataError (never another error, never a
// hang), and nothing outside what the command owns changes.
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  inspect,
  readTreeRecord,
  recordTree,
  saveTreeRecord,
  StrataError,
  unpack,
} from "@strata-oci/core";
import { storeGc, storeList, storeRemove, unpackToStore } from "@strata-oci/store";
import { tempDir, writeStackImage, type TarMember } from "@strata-oci/testing";
import { answer, startHostileRegistry, type HostileRegistry } from "../support/hostile-registry.js";
import { canaryChanges, plantCanaries } from "./sandbox.js";

const root = process.geteuid?.() === 0;
const work = tempDir("strata-fuzz-surfaces-");
const outside = join(work.path, "outside");
const canaries = plantCanaries([outside]);
afterAll(() => work.remove());
let n = 0;

/** Typed or fine: anything but a StrataError is a bug. */
async function typed(run: () => Promise<unknown> | unknown): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
  }
}

/** A damage done to a text: a cut, a flipped byte, a value replaced, a name pointed elsewhere. */
const damage = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bits: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("replace" as const),
    key: fc.constantFrom(
      "chainId",
      "link",
      "diffId",
      "parent",
      "reference",
      "chainIds",
      "id",
      "target",
      "rootless",
      "version",
      "entries",
      "writable",
      "platform",
    ),
    value: fc.oneof(
      fc.constant(`../../../../../..${outside}`),
      fc.constant(outside),
      fc.constant(null),
      fc.constant(-1),
      fc.constant([]),
      fc.constant(["sha256:" + "0".repeat(64)]),
      fc.string(),
      fc.constant("sha256:../../x"),
      fc.constant(true),
    ),
  }),
);

type Damage = {
  readonly kind: "truncate" | "flip" | "replace";
  readonly at?: number;
  readonly bits?: number;
  readonly key?: string;
  readonly value?: unknown;
};

function damaged(text: Buffer, how: Damage): Buffer {
  if (how.kind === "truncate") return text.subarray(0, (how.at ?? 0) % Math.max(1, text.length));
  if (how.kind === "flip") {
    const copy = Buffer.from(text);
    const at = (how.at ?? 0) % Math.max(1, copy.length);
    copy[at] = (copy[at] as number) ^ (how.bits ?? 1);
    return copy;
  }
  try {
    const json = JSON.parse(text.toString("utf8")) as Record<string, unknown>;
    return Buffer.from(JSON.stringify({ ...json, [how.key as string]: how.value }));
  } catch {
    return text;
  }
}

const BASE: TarMember[][] = [
  [
    { name: "etc/", type: "dir" },
    { name: "etc/a", type: "file", data: "a" },
  ],
  [
    { name: "etc/.wh.a", type: "file" },
    { name: "etc/b", type: "file", data: "b" },
  ],
];

describe.runIf(root)("the store's records, damaged at random", () => {
  it(
    "property: ls, gc, rm and unpack --store end typed, and nothing outside the " + "store changes",
    async () => {
      const image = writeStackImage(join(work.path, "image"), BASE, "t");
      const other = writeStackImage(
        join(work.path, "other"),
        [...BASE, [{ name: "more", type: "file", data: "m" }]],
        "t",
      );
      await fc.assert(
        fc.asyncProperty(fc.nat(), damage, async (pick, how) => {
          const store = join(work.path, `store-${n++}`);
          await unpackToStore({ image, store });
          await unpackToStore({ image: other, store });
          await storeRemove({ store, image });
          writeFileSync(
            join(store, "mounts", "AAAAAAAAAAAA.json"),
            JSON.stringify({
              id: "AAAAAAAAAAAA",
              target: "/nowhere",
              reference: "x",
              writable: false,
              chainIds: [],
            }),
          );
          const records = [
            join(store, "store.json"),
            ...readdirSync(join(store, "layers")).map((hex) =>
              join(store, "layers", hex, "layer.json"),
            ),
            ...readdirSync(join(store, "images")).map((name) => join(store, "images", name)),
            join(store, "mounts", "AAAAAAAAAAAA.json"),
          ];
          const links = readdirSync(join(store, "l")).map((name) => join(store, "l", name));
          const target = [...records, ...links][pick % (records.length + links.length)] as string;
          if (links.includes(target)) {
            const was = readlinkSync(target);
            rmSync(target);
            symlinkSync(
              how.kind === "truncate" ? outside : `${was}/../../../../..${outside}`,
              target,
            );
          } else {
            writeFileSync(target, damaged(readFileSync(target), how));
          }
          await typed(() => storeList({ store }));
          await typed(() => storeGc({ store }));
          await typed(() => unpackToStore({ image, store }));
          await typed(() => storeRemove({ store, image: other }));
          await typed(() => storeGc({ store }));
          expect(canaryChanges(canaries)).toEqual([]);
          rmSync(store, { recursive: true, force: true });
        }),
        { numRuns: 60 },
      );
    },
    180_000,
  );
});

describe("tree records, damaged at random", () => {
  it(
    "property: reading one is a record or a StrataError (STRATA_BAD_RECORD), never " +
      "another error",
    async () => {
      const image = writeStackImage(join(work.path, "record-image"), BASE, "t");
      const rootfs = join(work.path, "record-rootfs");
      await unpack({ image, dest: rootfs });
      const file = join(work.path, "record");
      saveTreeRecord(recordTree(rootfs, "x"), file);
      const genuine = readFileSync(file);
      await fc.assert(
        fc.asyncProperty(damage, fc.nat(), async (how, extra) => {
          const text =
            how.kind === "replace"
              ? Buffer.concat([
                  genuine,
                  Buffer.from(
                    `f ${extra} ${extra} 1 /${Buffer.from(String(how.value)).toString("hex")}\n`,
                  ),
                ])
              : damaged(genuine, how);
          const forged = join(work.path, `record-${n++}`);
          writeFileSync(forged, text);
          await typed(() => readTreeRecord(forged));
        }),
        { numRuns: 300 },
      );
    },
  );
});

describe("a registry's answers, damaged at random", () => {
  let registry: HostileRegistry;
  beforeAll(async () => {
    const layout = join(work.path, "served");
    mkdirSync(layout);
    writeStackImage(layout, BASE, "t");
    registry = await startHostileRegistry(layout);
  });
  afterAll(async () => registry?.stop());

  const status = fc.constantFrom(200, 200, 200, 206, 301, 307, 401, 403, 404, 416, 429, 500, 503);
  const headers = fc.dictionary(
    fc.constantFrom(
      "content-type",
      "content-length",
      "location",
      "www-authenticate",
      "retry-after",
      "content-range",
      "docker-content-digest",
    ),
    fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        "application/vnd.oci.image.manifest.v1+json",
        "0",
        "99999999999",
        "-1",
        'Bearer realm="http://127.0.0.1:1/token"',
        "Basic",
        "/v2/",
        "http://example.invalid/x",
        "bytes 0-1/2",
        "1",
      ),
    ),
    { maxKeys: 3 },
  );
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.json().map((j) => Buffer.from(j)),
    fc.constant(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: [{}],
        }),
      ),
    ),
  );
  const which = fc.constantFrom("/manifests/", "/blobs/", "/v2/", "/token");

  it(
    "property: inspect and unpack of docker:// end in a result or a StrataError, for any " +
      "status, headers and body",
    async () => {
      await fc.assert(
        fc.asyncProperty(which, status, headers, body, async (path, code, fields, data) => {
          registry.reset();
          registry.hooks = [
            (_req, res, seen) => {
              if (!seen.path.includes(path)) return false;
              try {
                return answer(res, code, fields, data);
              } catch {
                // Node refused a header value: an empty answer, then.
                return answer(res, code);
              }
            },
          ];
          // A Retry-After of hours is waited out no longer than this (the wait ends typed,
          // STRATA_ABORTED).
          const options = {
            registry: { retry: { attempts: 2, delayMs: 1 }, timeoutMs: 2000 },
            signal: AbortSignal.timeout(5000),
          };
          await typed(() => inspect({ image: `docker://${registry.host}/team/app:t`, ...options }));
          await typed(() =>
            unpack({
              image: `docker://${registry.host}/team/app:t`,
              dest: join(work.path, `pulled-${n++}`),
              ...options,
            }),
          );
        }),
        { numRuns: 80 },
      );
    },
    240_000,
  );
});
