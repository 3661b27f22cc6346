// registries.conf as skopeo and podman read it (#22.4): prefixes matched
// longest first, locations rewritten, mirrors tried in order before the
// registry (pull-from-mirror, mirror-by-digest-only), insecure and blocked
// registries, drop-ins, typed errors for a broken file. Against real parts: a
// docker-registry and a second one in pull-through-cache mode as its mirror,
// stopped halfway to show the fallback; pushes go to the registry only.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  copyImage,
  loadRegistriesConf,
  parseDockerReference,
  pullSources,
  pushTarget,
} from "@strata-oci/image";
import { tempDir } from "../../../test/support/layers.js";
import {
  registryUnavailable,
  startRegistry,
  type TestRegistry,
} from "../../../test/support/registry.js";

const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
const work = tempDir("strata-registries-conf-");
afterAll(() => work.remove());
let n = 0;

function conf(text: string, dropIns: Record<string, string> = {}): string {
  const dir = join(work.path, `conf-${n++}`);
  mkdirSync(join(dir, "registries.conf.d"), { recursive: true });
  writeFileSync(join(dir, "registries.conf"), text);
  for (const [name, body] of Object.entries(dropIns))
    writeFileSync(join(dir, "registries.conf.d", name), body);
  return join(dir, "registries.conf");
}

const sources = (file: string, reference: string) =>
  pullSources(loadRegistriesConf(file), parseDockerReference(reference)).map(
    (s) =>
      `${s.ref.registry}/${s.ref.repository}${s.ref.tag === undefined ? "" : `:${s.ref.tag}`}` +
      `${s.ref.digest === undefined ? "" : "@digest"}${s.insecure ? " insecure" : ""}`,
  );

describe("registries.conf read as containers/image reads it", () => {
  const DIGEST = `sha256:${"a".repeat(64)}`;
  it("longest prefix wins; location rewrites the prefix; mirrors first, in order", () => {
    const file = conf(`
[[registry]]
prefix = "example.com"
location = "registry.example.com"

[[registry]]
prefix = "example.com/team"
location = "team.example.com/images"
insecure = true
[[registry.mirror]]
location = "mirror-a.example.com/team"
[[registry.mirror]]
location = "mirror-b.example.com/cache/team"
insecure = true
`);
    expect(sources(file, "//example.com/team/app:1")).toEqual([
      "mirror-a.example.com/team/app:1",
      "mirror-b.example.com/cache/team/app:1 insecure",
      "team.example.com/images/app:1 insecure",
    ]);
    expect(sources(file, "//example.com/other/app:1")).toEqual([
      "registry.example.com/other/app:1",
    ]);
    // A prefix matches whole components: example.com/teamwork is not example.com/team.
    expect(sources(file, "//example.com/teamwork/app:1")).toEqual([
      "registry.example.com/teamwork/app:1",
    ]);
    expect(sources(file, "//elsewhere.io/app:1")).toEqual(["elsewhere.io/app:1"]);
    expect(
      pushTarget(loadRegistriesConf(file), parseDockerReference("//example.com/team/a:1")),
    ).toMatchObject({
      ref: { registry: "team.example.com", repository: "images/a" },
      insecure: true,
    });
  });

  it("pull-from-mirror and mirror-by-digest-only choose mirrors by how the image is named", () => {
    const file = conf(`
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "digests.example.com"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.example.com"
pull-from-mirror = "tag-only"

[[registry]]
location = "quay.example.com"
mirror-by-digest-only = true
[[registry.mirror]]
location = "quay-mirror.example.com"
`);
    expect(sources(file, "//debian:12")).toEqual([
      "tags.example.com/library/debian:12",
      "docker.io/library/debian:12",
    ]);
    expect(sources(file, `//debian@${DIGEST}`)).toEqual([
      "digests.example.com/library/debian@digest",
      "docker.io/library/debian@digest",
    ]);
    expect(sources(file, "//quay.example.com/a/b:1")).toEqual(["quay.example.com/a/b:1"]);
    expect(sources(file, `//quay.example.com/a/b@${DIGEST}`)).toEqual([
      "quay-mirror.example.com/a/b@digest",
      "quay.example.com/a/b@digest",
    ]);
  });

  it("wildcards match subdomains; drop-ins replace entries of the same prefix; blocked refuses", () => {
    const file = conf(
      `
[[registry]]
prefix = "*.internal.example"
insecure = true

[[registry]]
location = "blocked.example"
`,
      {
        "10-block.conf": `[[registry]]\nlocation = "blocked.example"\nblocked = true\n`,
      },
    );
    expect(sources(file, "//a.internal.example/x:1")).toEqual(["a.internal.example/x:1 insecure"]);
    expect(() => sources(file, "//blocked.example/x:1")).toThrow(
      expect.objectContaining({ code: "STRATA_REGISTRY_DENIED" }),
    );
    expect(loadRegistriesConf(file).files.map((f) => f.split("/").pop())).toEqual([
      "registries.conf",
      "10-block.conf",
    ]);
  });

  it.each([
    ["not TOML", "[[registry\n"],
    ["a location that is no string", "[[registry]]\nlocation = 5\n"],
    ["a mirror without location", '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\n'],
    [
      "a bad pull-from-mirror",
      '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\nlocation = "b.io"\npull-from-mirror = "some"\n',
    ],
    ["a wildcard with a location", '[[registry]]\nprefix = "*.a.io"\nlocation = "b.io"\n'],
  ])("%s is STRATA_BAD_OPTION naming the file", (_name, text) => {
    const file = conf(text);
    expect(() => loadRegistriesConf(file)).toThrow(
      expect.objectContaining({
        code: "STRATA_BAD_OPTION",
        message: expect.stringContaining(file),
      }),
    );
  });
});

const unavailable = registryUnavailable();
describe.skipIf(unavailable !== undefined)("a mirror in front of a registry", () => {
  let origin: TestRegistry;
  let mirror: TestRegistry;
  let file = "";
  beforeAll(async () => {
    mkdirSync(join(work.path, "origin"));
    origin = await startRegistry(join(work.path, "origin"));
    await copyImage({ image: SAMPLE, destination: `docker://${origin.host}/strata/sample:1` });
    mkdirSync(join(work.path, "mirror"));
    mirror = await startRegistry(join(work.path, "mirror"), { proxyOf: `http://${origin.host}` });
    // images.strata.test resolves nowhere: only registries.conf makes it reachable.
    file = conf(`
[[registry]]
prefix = "images.strata.test"
location = "${origin.host}"
[[registry.mirror]]
location = "${mirror.host}"
`);
  }, 60_000);
  afterAll(() => {
    origin?.stop();
    mirror?.stop();
  });

  const strata = (...args: string[]) =>
    spawnSync(BIN, [...args], {
      encoding: "utf8",
      env: { ...process.env, CONTAINERS_REGISTRIES_CONF: file },
    });
  const cached = (): string[] => {
    const blobs = join(work.path, "mirror", "data", "docker", "registry", "v2", "blobs", "sha256");
    return existsSync(blobs) ? readdirSync(blobs) : [];
  };

  it("pulls through the mirror (which caches), falls back to the registry when it is gone", () => {
    const image = "docker://images.strata.test/strata/sample:1";
    const first = strata("unpack", "-q", image, join(work.path, "via-mirror"));
    expect(first.status, first.stderr).toBe(0);
    // The pull-through cache kept what it served: the pull went through it.
    expect(cached().length).toBeGreaterThan(0);
    mirror.stop();
    const second = strata("unpack", "-q", image, join(work.path, "via-origin"));
    expect(second.status, second.stderr).toBe(0);
    expect(readdirSync(join(work.path, "via-origin")).sort()).toEqual(
      readdirSync(join(work.path, "via-mirror")).sort(),
    );
  });

  it("--registries-conf names the file; a push goes to the registry's location, never a mirror", () => {
    const run = spawnSync(
      BIN,
      ["copy", "--registries-conf", file, SAMPLE, "docker://images.strata.test/strata/pushed:1"],
      { encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0);
    const inspected = spawnSync(BIN, ["inspect", `docker://${origin.host}/strata/pushed:1`], {
      encoding: "utf8",
    });
    expect(inspected.status, inspected.stderr).toBe(0);
  });
});
