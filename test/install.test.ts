// Issue #10: every package packed as a release packs it, installed with npm
// into a fresh project outside the repository, used there as a user would:
// the strata command without a C compiler, a library script (run as is,
// type-checked under NodeNext and Bundler, and bundled by esbuild), and an
// install where no prebuilt binary fits and no compiler exists.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, posix } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "@strata-oci/image";
import { writeTar } from "@strata-oci/layer";
import { tempDir } from "./support/layers.js";

const REPO = join(import.meta.dirname, "..");
const SAMPLE = `oci:${join(REPO, "fixtures", "sample", "oci")}:sample`;
const TSC = join(REPO, "node_modules", "typescript", "bin", "tsc");
const ESBUILD = join(REPO, "node_modules", ".bin", "esbuild");
// No compiler anywhere below: a build that needed one fails loudly.
// A user's shell: none of the npm_* settings that pnpm passes to its scripts.
const NO_CC = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_|^PNPM_/i.test(key))),
  CC: "/bin/false",
  CXX: "/bin/false",
};
const TYPES_NODE = (
  JSON.parse(
    readFileSync(join(REPO, "node_modules", "@types", "node", "package.json"), "utf8"),
  ) as { version: string }
).version;

const work = tempDir("strata-install-");
afterAll(() => work.remove());

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = NO_CC,
): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: "utf8", timeout: 300_000 });
}

function ok(result: SpawnSyncReturns<string>): string {
  expect({
    status: result.status,
    stderr: result.status === 0 ? "" : result.stderr,
    stdout: result.status === 0 ? "" : result.stdout,
  }).toEqual({ status: 0, stderr: "", stdout: "" });
  return result.stdout;
}

const LIBRARY_SCRIPT = `
import { backends, bundle, inspect, unpack } from "@strata-oci/strata";
const [image = "", dir = "."] = process.argv.slice(2);
// A build tool passes what it has, undefined included (exactOptionalPropertyTypes accepts it).
const platform = process.env.STRATA_TEST_PLATFORM;
const signal = process.env.STRATA_TEST_NO_SIGNAL ? undefined : AbortSignal.timeout(600_000);
const summary = await inspect({ image, platform, signal, registry: undefined });
const unpacked = await unpack({ image, dest: dir + "/rootfs", platform, signal, onProgress: undefined });
const made = await bundle({ image, dir: dir + "/bundle", args: ["/bin/true"] });
const user: { uid: number; gid: number } = made.config.process.user;
const root = made.config.root.path;
const gzip = backends().gzip;
const layers = summary.layers.length;
console.log(JSON.stringify({ layers, entries: unpacked.entries, uid: user.uid, root, gzip }));
`;

/** What an npm install put in `dir`: packages resolved, packages installed, their size. */
function footprint(dir: string): string {
  const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as {
    packages: Record<string, unknown>;
  };
  const resolved = Object.keys(lock.packages).filter((key) => key.startsWith("node_modules/"));
  const installed = resolved.filter((key) => existsSync(join(dir, key, "package.json")));
  const kib = Number(run("du", ["-sk", "node_modules"], dir).stdout.split("\t")[0]);
  return (
    `${installed.length} packages installed (${resolved.length} resolved), ` +
    `${(kib / 1024).toFixed(1)} MiB in node_modules`
  );
}

let tarballs: string[] = [];
let project = "";
let installSeconds = 0;

describe("packed packages installed with npm into a fresh project", () => {
  beforeAll(() => {
    // `pnpm run pack-all` (part of `pnpm test`) packs every package as a release does, prebuilt
    // binaries included.
    const packs = join(REPO, "test", ".packs");
    if (!existsSync(packs))
      throw new Error("no test/.packs: run `pnpm run pack-all` first (pnpm test does)");
    tarballs = readdirSync(packs)
      .filter((name) => name.endsWith(".tgz"))
      .sort()
      .map((name) => join(packs, name));
    project = join(work.path, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "strata-user", private: true, type: "module" }),
    );
    const started = performance.now();
    // @types/node as a TypeScript user of a Node library has it, pinned as the repository pins it.
    ok(
      run(
        "npm",
        ["install", "--no-audit", "--no-fund", ...tarballs, `@types/node@${TYPES_NODE}`],
        project,
      ),
    );
    installSeconds = (performance.now() - started) / 1000;
    writeFileSync(join(project, "app.ts"), LIBRARY_SCRIPT);
    // Without the one annotation, node runs it as JavaScript.
    writeFileSync(
      join(project, "app.mjs"),
      LIBRARY_SCRIPT.replace(": { uid: number; gid: number }", ""),
    );
    console.log(`install: ${footprint(project)}`);
    console.log(
      `install: ${installSeconds.toFixed(1)} s; tarballs: ` +
        `${tarballs
          .map((t) => `${t.split("/").pop()} ` + `${(statSync(t).size / 1024).toFixed(0)} KiB`)
          .join(", ")}`,
    );
  }, 600_000);

  it(
    "packs ten packages, each with its built code, and the native ones with linux-x64 and " +
      "linux-arm64 binaries",
    () => {
      expect(tarballs.map((t) => t.split("/").pop())).toEqual(
        [
          "build",
          "bundle",
          "core",
          "errors",
          "image",
          "layer",
          "merge",
          "store",
          "strata",
          "testing",
        ].map((name) => `strata-oci-${name}-0.1.0.tgz`),
      );
      const listing = (name: string): string[] =>
        run(
          "tar",
          ["-tzf", tarballs.find((t) => t.includes(`-${name}-`)) as string],
          work.path,
        ).stdout.split("\n");
      expect(listing("layer")).toEqual(
        expect.arrayContaining([
          "package/dist/index.js",
          "package/dist/index.d.ts",
          "package/worker/blob-worker.mjs",
          "package/prebuilds/linux-x64/strata_gzip.node",
          "package/prebuilds/linux-arm64/strata_gzip.node",
          "package/LICENSE",
        ]),
      );
      expect(listing("merge")).toEqual(
        expect.arrayContaining([
          "package/prebuilds/linux-x64/strata_native.node",
          "package/prebuilds/linux-arm64/strata_native.node",
        ]),
      );
      expect(listing("strata")).toEqual(
        expect.arrayContaining(["package/bin/strata.js", "package/dist/main.js"]),
      );
      // Every source map's sources are in the package: a stack trace or a debugger finds them.
      for (const t of tarballs) {
        const files = new Set(
          run("tar", ["-tzf", t], work.path)
            .stdout.split("\n")
            .filter((f) => f !== ""),
        );
        for (const map of [...files].filter((f) => f.endsWith(".js.map"))) {
          const { sources } = JSON.parse(run("tar", ["-xzOf", t, map], work.path).stdout) as {
            sources: string[];
          };
          for (const source of sources)
            expect(files, `${t}: ${map} -> ${source}`).toContain(
              posix.normalize(posix.join(posix.dirname(map), source)),
            );
        }
      }
      for (const t of tarballs) {
        const manifest = JSON.parse(
          run("tar", ["-xzOf", t, "package/package.json"], work.path).stdout,
        ) as Record<string, unknown>;
        expect(JSON.stringify(manifest)).not.toContain("workspace:");
        expect(manifest).toMatchObject({
          license: "Apache-2.0",
          engines: { node: "^20.19.0 || >=22.12.0" },
        });
      }
    },
  );

  it(
    "the README's @strata-oci/testing example runs as a user's property test (fast-check " +
      "from npm)",
    () => {
      const readme = readFileSync(join(REPO, "README.md"), "utf8");
      const example = /<!-- example: test-my-layer\.mjs[^>]*-->\n```js\n([\s\S]*?)```/.exec(
        readme,
      )?.[1];
      expect(example, "the example block in README.md").toBeDefined();
      writeFileSync(join(project, "test-my-layer.mjs"), example as string);
      expect(ok(run(process.execPath, ["test-my-layer.mjs"], project))).toContain(
        "cleanupLayer: 50 random bases ok",
      );
    },
  );

  it("npx strata unpacks the sample image with no C compiler, on the prebuilt binaries", () => {
    const version = ok(run("npx", ["strata", "--version"], project));
    expect(version).toContain("ISA-L, prebuilt");
    expect(version).toContain("native calls  prebuilt");
    const dest = join(work.path, "npx-rootfs");
    const unpacked = ok(run("npx", ["strata", "unpack", SAMPLE, dest], project));
    expect(unpacked).toContain("3 layers, 26 entries");
    expect(readFileSync(join(dest, "etc", "os-release"), "utf8")).toContain("strata sample");
  });

  it(
    "installs nothing that downloads or compiles at install time: every package resolved is " +
      "installed, none but strata's own has an install script, one @types/node (#23)",
    () => {
      const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as {
        packages: Record<string, { hasInstallScript?: boolean; version?: string }>;
      };
      const packages = Object.entries(lock.packages).filter(([key]) =>
        key.startsWith("node_modules/"),
      );
      const scripted = packages.filter(([, p]) => p.hasInstallScript === true).map(([k]) => k);
      // Ours build their addon only where no prebuilt binary fits (and skip without a compiler).
      expect(scripted.sort()).toEqual([
        "node_modules/@strata-oci/layer",
        "node_modules/@strata-oci/merge",
      ]);
      expect(packages.filter(([key]) => !existsSync(join(project, key)))).toEqual([]);
      expect(packages.filter(([key]) => key.endsWith("/@types/node"))).toEqual([
        ["node_modules/@types/node", expect.objectContaining({ version: TYPES_NODE })],
      ]);
      for (const name of ["zstd-napi", "prebuild-install", "node-gyp"])
        expect(packages.map(([key]) => key)).not.toContain(`node_modules/${name}`);
    },
  );

  it(
    "CommonJS code requires the library (engines: Node 20.19+ or 22.12+, where require() " +
      "loads ES modules)",
    () => {
      writeFileSync(
        join(project, "app.cjs"),
        'const strata = require("@strata-oci/strata");\n' +
          "console.log(typeof strata.unpack, typeof strata.StrataError);\n",
      );
      expect(ok(run(process.execPath, ["app.cjs"], project)).trim()).toBe("function function");
    },
  );

  it("a stack trace from the installed command names the installed files (#23)", () => {
    writeFileSync(
      join(project, "trace.cjs"),
      'const { loadCli } = require("./node_modules/@strata-oci/strata/bin/load-cli.cjs");\n' +
        "loadCli().main(null).catch((error) => console.log(error.stack));\n",
    );
    const trace = ok(run(process.execPath, ["trace.cjs"], project));
    expect(trace).toContain(join(project, "node_modules", "@strata-oci", "strata", "dist"));
    expect(trace).not.toContain(REPO);
  });

  it(
    "zstd without zstd-napi: read by fzstd, written nowhere (a typed refusal that says what " +
      "to install); with Node 22, read and written by Node's own zlib",
    () => {
      expect(ok(run("npx", ["strata", "--version"], project))).toMatch(/zstd +JS \(fzstd/);
      const refused = run(
        "npx",
        ["strata", "squash", "--compress", "zstd", SAMPLE, `oci:${join(work.path, "zstd")}:z`],
        project,
      );
      expect(refused.stderr).toContain("code: STRATA_NATIVE_UNAVAILABLE");
      expect(refused.stderr).toContain("npm install zstd-napi");
      expect(refused.status).toBe(1);
      const node22 = join(REPO, "test", ".tools", "node22", "node_modules", ".bin", "node");
      if (!existsSync(node22)) {
        console.log("no Node 22 in test/.tools (install-tools puts it there): zlib zstd untested");
        return;
      }
      const strata = join(project, "node_modules", "@strata-oci", "strata", "bin", "strata.cjs");
      const with22 = (...args: string[]) => ok(run(node22, [strata, ...args], project));
      expect(with22("--version")).toMatch(/zstd +Node's zlib/);
      const layout = `oci:${join(work.path, "zstd22")}:z`;
      with22("squash", "-q", "--compress", "zstd", SAMPLE, layout);
      expect(with22("inspect", layout)).toContain("tar+zstd");
      // Read back by Node 22's zlib and by this Node's fzstd: the same tree, the original's paths.
      const listed = ok(run("npx", ["strata", "ls", "-R", layout], project));
      expect(with22("ls", "-R", layout)).toBe(listed);
      const paths = (text: string) =>
        text.split("\n").map((line) => line.slice(line.indexOf(" /")));
      expect(paths(listed)).toEqual(paths(ok(run("npx", ["strata", "ls", "-R", SAMPLE], project))));
    },
  );

  it(
    "@strata-oci/testing with a user's fast-check 3: the README example runs and a typed " +
      "property test compiles (fast-check is a peer dependency)",
    () => {
      const user = join(work.path, "fast-check-3");
      mkdirSync(user);
      writeFileSync(
        join(user, "package.json"),
        JSON.stringify({ name: "fc3-user", private: true, type: "module" }),
      );
      ok(
        run(
          "npm",
          [
            "install",
            "--no-audit",
            "--no-fund",
            ...tarballs,
            "fast-check@3.23.2",
            `@types/node@${TYPES_NODE}`,
          ],
          user,
        ),
      );
      console.log(`install with fast-check 3: ${footprint(user)}`);
      const readme = readFileSync(join(REPO, "README.md"), "utf8");
      const example = /<!-- example: test-my-layer\.mjs[^>]*-->\n```js\n([\s\S]*?)```/.exec(
        readme,
      )?.[1] as string;
      writeFileSync(join(user, "test-my-layer.mjs"), example);
      expect(ok(run(process.execPath, ["test-my-layer.mjs"], user))).toContain(
        "50 random bases ok",
      );
      writeFileSync(
        join(user, "typed.ts"),
        'import fc from "fast-check";\n' +
          'import { anyStack, anyLayer } from "@strata-oci/testing";\n' +
          "fc.assert(fc.property(anyStack, anyLayer, (stack, layer) => stack.length > 0));\n",
      );
      writeFileSync(
        join(user, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: "NodeNext",
            moduleResolution: "NodeNext",
            target: "ES2022",
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ["node"],
          },
          files: ["typed.ts"],
        }),
      );
      ok(run(process.execPath, [TSC, "-p", "tsconfig.json"], user));
      const installed = JSON.parse(
        readFileSync(join(user, "node_modules", "fast-check", "package.json"), "utf8"),
      ) as { version: string };
      expect(installed.version).toBe("3.23.2");
    },
  );

  it(
    "a library script calls inspect, unpack and bundle; it type-checks under NodeNext " +
      "and Bundler, with exactOptionalPropertyTypes (options may be given as undefined)",
    () => {
      for (const [module, resolution] of [
        ["NodeNext", "NodeNext"],
        ["ESNext", "Bundler"],
      ]) {
        const config = join(project, `tsconfig.${resolution}.json`);
        writeFileSync(
          config,
          JSON.stringify({
            compilerOptions: {
              module,
              moduleResolution: resolution,
              target: "ES2022",
              strict: true,
              exactOptionalPropertyTypes: true,
              noUncheckedIndexedAccess: true,
              noEmit: true,
              skipLibCheck: false,
              types: ["node"],
            },
            files: ["app.ts"],
          }),
        );
        ok(run(process.execPath, [TSC, "-p", config], project));
      }
      const out = join(work.path, "library");
      mkdirSync(out);
      const result = JSON.parse(
        ok(run(process.execPath, ["app.mjs", SAMPLE, out], project)),
      ) as Record<string, unknown>;
      expect(result).toEqual({
        layers: 3,
        entries: 26,
        uid: expect.any(Number),
        root: "rootfs",
        gzip: "isal",
      });
      expect(existsSync(join(out, "bundle", "config.json"))).toBe(true);
    },
  );

  it(
    "the same script bundled by esbuild runs (strata's packages kept external, as the " +
      "README says)",
    () => {
      ok(
        run(
          ESBUILD,
          [
            "app.mjs",
            "--bundle",
            "--platform=node",
            "--format=esm",
            "--packages=external",
            "--outfile=bundled.mjs",
          ],
          project,
        ),
      );
      const out = join(work.path, "bundled");
      mkdirSync(out);
      const result = JSON.parse(
        ok(run(process.execPath, ["bundled.mjs", SAMPLE, out], project)),
      ) as Record<string, unknown>;
      expect(result).toMatchObject({ layers: 3, entries: 26 });
    },
  );

  it(
    "with strata bundled in too, it finds its worker and addons in the installed packages; " +
      "moved away from them, a big layer is a typed error that says what to do",
    () => {
      ok(
        run(
          ESBUILD,
          [
            "app.mjs",
            "--bundle",
            "--platform=node",
            "--format=esm",
            "--external:zstd-napi",
            "--outfile=inlined/app.mjs",
          ],
          project,
        ),
      );
      const out = join(work.path, "inlined");
      mkdirSync(out, { recursive: true });
      const inPlace = JSON.parse(
        ok(run(process.execPath, [join(project, "inlined", "app.mjs"), SAMPLE, out], project)),
      ) as Record<string, unknown>;
      expect(inPlace).toMatchObject({ layers: 3, entries: 26, gzip: "isal" });
      // A layer past OFF_THREAD_MIN_BYTES goes to the worker thread, whose file the moved bundle
      // cannot find.
      const layout = join(work.path, "big-layer-image");
      writeOciLayout(layout, {
        layers: [{ tar: writeTar([{ name: "noise", type: "file", data: randomBytes(3 << 20) }]) }],
        tag: "t",
      });
      const away = join(work.path, "away");
      mkdirSync(join(away, "out"), { recursive: true });
      copyFileSync(join(project, "inlined", "app.mjs"), join(away, "app.mjs"));
      const moved = run(
        process.execPath,
        [join(away, "app.mjs"), `oci:${layout}:t`, join(away, "out")],
        away,
      );
      expect(moved.status).not.toBe(0);
      expect(moved.stderr).toContain("STRATA_INSTALL_INCOMPLETE");
      expect(moved.stderr).toContain("--packages=external");
    },
  );

  it(
    "with no prebuilt binary for the platform and no compiler, the install scripts pass and " +
      "strata unpacks on zlib",
    () => {
      const bare = join(work.path, "bare");
      mkdirSync(bare);
      writeFileSync(
        join(bare, "package.json"),
        JSON.stringify({ name: "strata-bare", private: true, type: "module" }),
      );
      ok(run("npm", ["install", "--no-audit", "--no-fund", ...tarballs], bare));
      for (const name of ["layer", "merge"])
        rmSync(join(bare, "node_modules", "@strata-oci", name, "prebuilds"), {
          recursive: true,
          force: true,
        });
      ok(run("npm", ["rebuild", "@strata-oci/layer", "@strata-oci/merge"], bare));
      const version = ok(run("npx", ["strata", "--version"], bare));
      expect(version).toMatch(/gzip +zlib \(ISA-L unavailable/);
      expect(version).toMatch(/native calls +unavailable/);
      const dest = join(work.path, "bare-rootfs");
      const unpacked = run("npx", ["strata", "unpack", SAMPLE, dest], bare);
      expect(unpacked.status).toBe(0);
      expect(unpacked.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
      expect(readFileSync(join(dest, "etc", "os-release"), "utf8")).toContain("strata sample");
      console.log(`no-compiler run: ${unpacked.stdout.trim()} ${unpacked.stderr.trim()}`);
      // What only the addon can write is skipped with the rootless warnings, never a failure.
      const layout = join(work.path, "xattr-image");
      writeOciLayout(layout, {
        layers: [
          {
            tar: writeTar([
              {
                name: "ping",
                type: "file",
                data: "x",
                xattrs: {
                  "security.capability": Buffer.from(
                    "0100000200200000000000000000000000000000",
                    "hex",
                  ),
                },
              },
              { name: "null", type: "char", devMajor: 1, devMinor: 3 },
              { name: "pipe", type: "fifo" },
            ]),
          },
        ],
        tag: "t",
      });
      const degraded = run(
        "npx",
        ["strata", "unpack", `oci:${layout}:t`, join(work.path, "xattr-rootfs")],
        bare,
      );
      expect(degraded.status).toBe(0);
      expect(degraded.stderr).toContain("xattr-skipped");
      expect(degraded.stderr).toContain("2 × device-replaced");
      expect(readFileSync(join(work.path, "xattr-rootfs", "ping"), "utf8")).toBe("x");
      // The layer store cannot go without the addon (its lock, whiteouts, opaque marks): a typed
      // refusal.
      const store = run(
        "npx",
        ["strata", "unpack", "--store", join(work.path, "bare-store"), SAMPLE],
        bare,
      );
      expect(store.status).toBe(1);
      expect(store.stderr).toContain("code: STRATA_NATIVE_UNAVAILABLE");
    },
  );
});

// The README's first command, on a clean clone of this repository, where no
// compiler exists: it used to end in a stack trace (issue #10).
describe.runIf(existsSync(join(REPO, ".git")))(
  "the README's first command without a C compiler",
  () => {
    it("installs, builds and unpacks the sample, the native parts reported as not built", () => {
      const clone = join(work.path, "clone");
      ok(run("git", ["clone", "--quiet", REPO, clone], work.path));
      const install = run(
        "npx",
        ["--yes", "pnpm@10.34.9", "install", "--frozen-lockfile", "--prefer-offline"],
        clone,
      );
      expect(install.status).toBe(0);
      const sample = run("npx", ["--yes", "pnpm@10.34.9", "run", "sample"], clone);
      expect({ status: sample.status, stderr: sample.stderr }).toEqual({
        status: 0,
        stderr: expect.not.stringMatching(/\n\s+at .*:\d+:\d+/),
      });
      expect(sample.stdout).toContain("not built strata_native (/bin/false: exit 1)");
      expect(sample.stdout).toContain("3 layers, 26 entries");
      expect(readFileSync(join(clone, "sample-rootfs", "etc", "os-release"), "utf8")).toContain(
        "strata sample",
      );
    });
  },
);
