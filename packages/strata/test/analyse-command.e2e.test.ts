// Issue #25: `strata analyse` as a CI job runs it. --json in the result
// schema; --fail-wasted and --fail-efficiency end with status 3 past their
// threshold; --html writes one self-contained page that a real browser
// (Debian's chromium, headless) shows with the figures, keyboard-reachable
// shapes and text alternatives (a screenshot is kept where
// STRATA_TEST_ARTIFACTS says); and a Docker-built image with a wasteful step
// (a 1 MiB file added, then removed by a RUN) analysed from `docker save`'s
// archive, its figures equal to the independent script's over the same
// layer blobs.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkedResult } from "../../../test/support/result-schema.js";
import { tempDir } from "../../../test/support/layers.js";
import { dockerUnavailable, startDocker, type TestDocker } from "../../../test/support/dockerd.js";
import { registryUnavailable, startRegistry } from "../../../test/support/registry.js";
import { copyImage, writeOciLayout } from "@strata-oci/image";
import { writeTar } from "@strata-oci/layer";
import { writeStackImage } from "@strata-oci/testing";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "packages", "strata", "bin", "strata");
const SAMPLE = `oci:${join(ROOT, "fixtures", "sample", "oci")}:sample`;
const MODEL = join(ROOT, "test", "support", "analyse-model.py");
const work = tempDir("strata-analyse-cmd-");
afterAll(() => work.remove());

const strata = (...args: string[]) => spawnSync(BIN, args, { encoding: "utf8" });
const chromium = ["chromium", "chromium-browser"].find(
  (name) => spawnSync("sh", ["-c", `command -v ${name}`]).status === 0,
);

describe("strata analyse, the command", () => {
  it("--json is a result of the schema; the text names the largest wasted file", () => {
    const json = strata("analyse", "--json", SAMPLE);
    expect(json.status, json.stderr).toBe(0);
    const result = checkedResult(json.stdout);
    expect(result.totals.wastedBytes).toBe(6087);
    expect(result.largestWasted[0]).toEqual({
      path: "/var/cache/big.cache",
      size: 6000,
      layer: 0,
      hiddenBy: 1,
      how: "removed",
    });
    expect(result.failed).toEqual([]);
    // The American spelling answers too.
    const spelled = strata("analyze", "--json", SAMPLE);
    expect(spelled.status, spelled.stderr).toBe(0);
    expect(checkedResult(spelled.stdout).totals).toEqual(result.totals);
    expect(strata("help", "analyze").stdout).toContain("Usage: strata analyse");
    const text = strata("analyse", SAMPLE);
    expect(text.stdout).toMatch(/efficiency +3\.5%/);
    expect(text.stdout).toMatch(/6\.0 kB +\/var\/cache\/big\.cache +written by L0, removed by L1/);
  });

  it("--fail-wasted and --fail-efficiency: status 3 past the threshold, 0 within it, 2 for nonsense", () => {
    const over = strata("analyse", "-q", "--fail-wasted", "4K", SAMPLE);
    expect(over.status).toBe(3);
    expect(over.stderr).toContain("6.1 kB wasted, more than --fail-wasted allows (4.1 kB)");
    expect(strata("analyse", "-q", "--fail-wasted", "8K", SAMPLE).status).toBe(0);
    const low = strata("analyse", "--json", "--fail-efficiency", "50%", SAMPLE);
    expect(low.status).toBe(3);
    expect(checkedResult(low.stdout).failed).toEqual([
      { gate: "efficiency", limit: 0.5, value: expect.closeTo(220 / 6307, 6) },
    ]);
    expect(strata("analyse", "-q", "--fail-efficiency", "0.03", SAMPLE).status).toBe(0);
    for (const bad of [
      ["--fail-efficiency", "120%"],
      ["--fail-wasted", "lots"],
      ["--top", "x"],
    ]) {
      const refused = strata("analyse", ...bad, SAMPLE);
      expect(refused.status, bad.join(" ")).toBe(2);
      expect(refused.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("the text escapes what the image names: control bytes in a name or a history step", () => {
    const dir = join(work.path, "controls");
    const name = "evil\x1b]0;owned\x07.bin";
    writeOciLayout(dir, {
      layers: [
        { tar: writeTar([{ name, type: "file", data: Buffer.alloc(64, 1) }]) },
        { tar: writeTar([{ name: `.wh.${name}`, type: "file" }]) },
      ],
      configOverrides: {
        history: [{ created_by: "RUN \x1b[2J cleared" }, { created_by: "RUN rm" }],
      },
      tag: "t",
    });
    const shown = strata("analyse", `oci:${dir}:t`);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).not.toContain("\x1b");
    expect(shown.stdout).toContain("/evil\\x1b]0;owned\\x07.bin");
    expect(shown.stdout).toContain("RUN \\x1b[2J cleared");
  });

  it("--html escapes what the image names: a file called <img onerror> stays text", () => {
    const hostile = '<img src=x onerror="alert(1)">';
    const image = writeStackImage(
      join(work.path, "hostile"),
      [
        [{ name: `${hostile}.bin`, type: "file", data: Buffer.alloc(4096, 1) }],
        [{ name: `.wh.${hostile}.bin`, type: "file" }],
      ],
      "t",
    );
    const page = join(work.path, "hostile.html");
    const made = strata("analyse", "-q", "--html", page, image);
    expect(made.status, made.stderr).toBe(0);
    const html = readFileSync(page, "utf8");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.bin");
    expect(html).not.toContain("<img");
  });

  it("--json names paths that are not UTF-8 exactly: pathBase64 beside path, as ls does", () => {
    const bytes = (text: string): Buffer => Buffer.from(text, "latin1");
    const image = writeStackImage(
      join(work.path, "latin1"),
      [
        [
          { name: bytes("d\xff/"), type: "dir" },
          { name: bytes("d\xff/big\xfe.bin"), type: "file", data: Buffer.alloc(64 << 10, 1) },
          { name: bytes("d\xff/gone\xfd.bin"), type: "file", data: Buffer.alloc(8192, 2) },
          { name: bytes("twice\xfc.bin"), type: "file", data: Buffer.alloc(4096, 3) },
          { name: "plain.bin", type: "file", data: Buffer.alloc(2048, 4) },
        ],
        [
          { name: bytes("d\xff/.wh.gone\xfd.bin"), type: "file" },
          { name: bytes("twice\xfc.bin"), type: "file", data: Buffer.alloc(4096, 5) },
          { name: ".wh.plain.bin", type: "file" },
        ],
      ],
      "t",
    );
    const run = strata("analyse", "--json", image);
    expect(run.status, run.stderr).toBe(0);
    const result = checkedResult(run.stdout);
    const exact = (entry: { path: string; pathBase64?: string }): string =>
      entry.pathBase64 === undefined
        ? entry.path
        : `/${Buffer.from(entry.pathBase64, "base64").toString("latin1")}`;
    expect(result.largestWasted.map(exact)).toEqual([
      "/d\xff/gone\xfd.bin",
      "/twice\xfc.bin",
      "/plain.bin",
    ]);
    const plain = (result.largestWasted as Array<{ path: string }>).find(
      (w) => w.path === "/plain.bin",
    );
    expect(plain).not.toHaveProperty("pathBase64");
    expect(result.repeated.map(exact)).toEqual(["/twice\xfc.bin"]);
    const nodes: Array<{ path: string; pathBase64?: string; children?: unknown[] }> = [];
    const visit = (node: (typeof nodes)[number]): void => {
      nodes.push(node);
      for (const child of (node.children ?? []) as Array<(typeof nodes)[number]>) visit(child);
    };
    visit(result.tree);
    expect(nodes.map(exact)).toEqual(
      expect.arrayContaining(["/d\xff", "/d\xff/big\xfe.bin", "/twice\xfc.bin"]),
    );
  });

  it.skipIf(registryUnavailable() !== undefined)(
    "a registry image gives the same figures as its layout, without a pull",
    async () => {
      mkdirSync(join(work.path, "registry"));
      const registry = await startRegistry(join(work.path, "registry"));
      try {
        const pushed = `docker://${registry.host}/strata/analysed:1`;
        await copyImage({ image: SAMPLE, destination: pushed });
        const local = checkedResult(strata("analyse", "--json", SAMPLE).stdout);
        const remote = checkedResult(strata("analyse", "--json", pushed).stdout);
        const { image: _local, ...figures } = local;
        const { image: _remote, ...same } = remote;
        expect(same).toEqual(figures);
      } finally {
        registry.stop();
      }
    },
    60_000,
  );

  it.skipIf(chromium === undefined)(
    "--html: a page chromium shows, with every layer, the wasted file and keyboard-reachable shapes",
    () => {
      const page = join(work.path, "report.html");
      const made = strata("analyse", "-q", "--html", page, SAMPLE);
      expect(made.status, made.stderr).toBe(0);
      const html = readFileSync(page, "utf8");
      // Self-contained: nothing fetched, no script.
      expect(html).not.toMatch(/<script|<link|src=|url\((?!#)/i);
      const browser = (...args: string[]) =>
        spawnSync(
          chromium as string,
          ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1800", ...args],
          { encoding: "utf8", timeout: 60_000 },
        );
      const dom = browser("--dump-dom", `file://${page}`);
      expect(dom.status, dom.stderr).toBe(0);
      for (const shown of ["/var/cache/big.cache", "L0", "L1", "L2", "3.5%", "6.1 kB"])
        expect(dom.stdout).toContain(shown);
      // Every shape has a text alternative and takes the keyboard's focus.
      const shapes = dom.stdout.match(/<g role="listitem" tabindex="0" aria-label="[^"]+">/g) ?? [];
      expect(shapes.length).toBeGreaterThanOrEqual(3 + 5);
      const screenshot = join(work.path, "report.png");
      const shot = browser(`--screenshot=${screenshot}`, `file://${page}`);
      expect(shot.status, shot.stderr).toBe(0);
      const png = readFileSync(screenshot);
      expect(png.subarray(1, 4).toString()).toBe("PNG");
      expect(png.readUInt32BE(16)).toBe(1280);
      const keep = process.env.STRATA_TEST_ARTIFACTS;
      if (keep !== undefined && keep !== "") {
        mkdirSync(keep, { recursive: true });
        copyFileSync(screenshot, join(keep, "analyse-report.png"));
      }
    },
    90_000,
  );
});

const noDocker = dockerUnavailable();
const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));

describe.skipIf(noDocker !== undefined || busybox === undefined)(
  "strata analyse of a Docker-built image with a wasteful step",
  () => {
    let docker: TestDocker;
    beforeAll(async () => {
      // The classic builder: Debian's docker.io has no buildx.
      process.env.DOCKER_BUILDKIT = "0";
      docker = await startDocker();
    }, 60_000);
    afterAll(async () => docker?.stop());

    it("finds the 1 MiB added and removed, as the script finds it in docker save's layers", () => {
      const context = join(work.path, "context");
      mkdirSync(context);
      copyFileSync(busybox as string, join(context, "busybox"));
      writeFileSync(join(context, "big.bin"), Buffer.alloc(1 << 20, 7));
      writeFileSync(
        join(context, "Dockerfile"),
        'FROM scratch\nCOPY busybox /bin/busybox\nCOPY big.bin /big.bin\nRUN ["/bin/busybox", "rm", "/big.bin"]\n',
      );
      const build = docker.docker("build", "--network", "none", "-t", "waste:1", context);
      expect(build.status, build.stderr).toBe(0);
      const archive = join(work.path, "waste.tar");
      expect(docker.docker("save", "-o", archive, "waste:1").status).toBe(0);
      const json = strata("analyse", "--json", `docker-archive:${archive}`);
      expect(json.status, json.stderr).toBe(0);
      const result = checkedResult(json.stdout);
      expect(result.largestWasted[0]).toMatchObject({
        path: "/big.bin",
        size: 1 << 20,
        layer: 1,
        hiddenBy: 2,
        how: "removed",
      });
      expect(result.layers[2].createdBy).toMatch(/RUN|busybox/);
      // The same figures from docker save's layer files, read by the script.
      const extracted = join(work.path, "saved");
      mkdirSync(extracted);
      expect(spawnSync("tar", ["-xf", archive, "-C", extracted]).status).toBe(0);
      const manifest = JSON.parse(readFileSync(join(extracted, "manifest.json"), "utf8"));
      const run = spawnSync(
        "python3",
        [MODEL, ...manifest[0].Layers.map((layer: string) => join(extracted, layer))],
        { encoding: "utf8" },
      );
      expect(run.status, run.stderr).toBe(0);
      const expected = JSON.parse(run.stdout);
      expect(
        result.layers.map(
          ({
            digest: _d,
            mediaType: _m,
            index: _i,
            compressedBytes: _c,
            createdBy: _b,
            ...figures
          }: Record<string, unknown>) => figures,
        ),
      ).toEqual(expected.layers);
      expect(result.totals).toMatchObject(expected.totals);
    }, 180_000);
  },
);
