// Copies (issue #22's targets), strata against skopeo, interleaved with the
// order rotated every round, each run from nothing (a fresh destination
// directory, a repository never pushed to):
//   push       strata copy oci:... docker://REG/...   vs skopeo copy (same), and
//              bench/raw-push.mjs sending each blob whole, nothing else (the floor)
//   oci->oci   strata copy oci:... oci:DIR:t          vs skopeo copy (same)
//   archive    strata copy oci:... docker-archive:F   vs tar -cf of the same blobs
//              (and skopeo's docker-archive, which inflates every layer)
// to Debian's docker-registry on a loopback port. Prints markdown tables:
// medians (min-max), peak RSS, per-round ratios.
//   node bench/copy.mjs [--rounds N] [--image oci:DIR:TAG ...] [--dest DIR]
// (after `pnpm run build`; needs docker-registry and skopeo, installed with apt when missing).
// Default image: the generated 30k-entry one (bench/generate.mjs).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { installMissing, printTable, runRounds, startRegistry, timed } from "./rounds.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    image: { type: "string", multiple: true },
    dest: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 5);
const root = resolve(import.meta.dirname, "..");
const strata = join(root, "packages", "strata", "bin", "strata");
const rawPush = join(root, "bench", "raw-push.mjs");
const tagOf = (image) => image.slice(image.lastIndexOf(":") + 1);
installMissing([
  ["docker-registry", "docker-registry"],
  ["skopeo", "skopeo"],
]);

const images = values.image ?? [];
if (images.length === 0) {
  const dir = join(root, "bench", "data", "img-30000");
  if (!existsSync(join(dir, "index.json")))
    execFileSync(
      process.execPath,
      [join(root, "bench", "generate.mjs"), dir, "--entries", "30000"],
      {
        stdio: "inherit",
      },
    );
  images.push(`oci:${dir}:bench`);
}

const work = values.dest ?? join(root, "bench", "out");
mkdirSync(work, { recursive: true });
const scratch = mkdtempSync(join(work, "copy-"));

/**
 * A push from nothing: a registry of its own with empty storage, and a HOME of its own (skopeo
 * remembers where it saw blobs, in ~/.local/share/containers/cache, and mounts them from there).
 */
async function pushes(image) {
  const tools = ["strata", "skopeo", "raw (floor)"];
  const times = Object.fromEntries(tools.map((tool) => [tool, []]));
  const rss = Object.fromEntries(tools.map((tool) => [tool, 0]));
  const layout = image.replace(/^oci:/, "").replace(/:[^:/]*$/, "");
  for (let round = 0; round < rounds; round++) {
    const order = [...tools.slice(round % 3), ...tools.slice(0, round % 3)];
    for (const tool of order) {
      const dir = mkdtempSync(join(scratch, "push-"));
      const registry = await startRegistry(dir);
      const env = { ...process.env, HOME: dir };
      spawnSync("sync");
      const target = `docker://${registry.host}/bench/image:t`;
      const result =
        tool === "strata"
          ? timed(strata, ["copy", "-q", image, target], { env })
          : tool === "skopeo"
            ? timed("skopeo", ["copy", "-q", "--dest-tls-verify=false", image, target], { env })
            : timed(process.execPath, [
                rawPush,
                layout,
                tagOf(image),
                registry.host,
                "bench/image",
                "t",
              ]);
      registry.stop();
      rmSync(dir, { recursive: true, force: true });
      times[tool].push(result.seconds);
      rss[tool] = Math.max(rss[tool], result.rssMb);
    }
  }
  return { times, rss };
}

try {
  for (const image of images) {
    const layout = image.replace(/^oci:/, "").replace(/:[^:/]*$/, "");
    console.log(`\n## ${image}\n`);
    const push = await pushes(image);
    printTable(
      "push to a loopback registry (raw: each blob sent whole, nothing checked: the floor)",
      push,
      { strata: "skopeo", "raw (floor)": "skopeo" },
      "against",
    );
    const layouts = runRounds(
      {
        strata: (dir) => timed(strata, ["copy", "-q", image, `oci:${join(dir, "copy")}:t`]),
        skopeo: (dir) => timed("skopeo", ["copy", "-q", image, `oci:${join(dir, "copy")}:t`]),
      },
      rounds,
      scratch,
    );
    printTable("\ncopy oci: -> oci:", layouts, { strata: "skopeo" }, "against");
    const archives = runRounds(
      {
        strata: (dir) =>
          timed(strata, ["copy", "-q", image, `docker-archive:${join(dir, "a.tar")}:bench:1`]),
        "tar -cf": (dir) => timed("tar", ["-cf", join(dir, "a.tar"), "-C", layout, "blobs"]),
        skopeo: (dir) =>
          timed("skopeo", ["copy", "-q", image, `docker-archive:${join(dir, "a.tar")}:bench:1`]),
      },
      rounds,
      scratch,
    );
    printTable("\ncopy to docker-archive", archives, { strata: "tar -cf", skopeo: "tar -cf" });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
