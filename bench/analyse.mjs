// strata analyse against strata unpack and `tar -t` of every layer (issue
// #25's targets: analyse at most 0.5x unpack, under 200 MB of RSS on the
// 100k-entry image), interleaved with the order rotated every round, each in
// a fresh directory. Prints markdown tables: medians (min-max), peak RSS,
// per-round ratios to unpack.
//   node bench/analyse.mjs [--rounds N] [--image oci:DIR:TAG ...] [--dest DIR]
// (after `pnpm run build`). Default images: the generated 30k and 100k ones.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { printTable, runRounds, timed, timedShell } from "./rounds.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    image: { type: "string", multiple: true },
    dest: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const strata = join(root, "packages", "strata", "bin", "strata");
const images = values.image ?? [];
if (images.length === 0)
  for (const entries of [30000, 100000]) {
    const dir = join(root, "bench", "data", `img-${entries}`);
    if (!existsSync(join(dir, "index.json")))
      execFileSync(
        process.execPath,
        [join(root, "bench", "generate.mjs"), dir, "--entries", String(entries)],
        { stdio: "inherit" },
      );
    images.push(`oci:${dir}:bench`);
  }
const work = values.dest ?? join(root, "bench", "out");
mkdirSync(work, { recursive: true });
const scratch = mkdtempSync(join(work, "analyse-"));

/** The layer blobs of `oci:DIR:TAG` (the manifest TAG names in index.json), in order. */
function layerBlobs(image) {
  const dir = image.replace(/^oci:/, "").replace(/:[^:/]*$/, "");
  const tag = image.slice(image.lastIndexOf(":") + 1);
  const blob = (digest) => join(dir, "blobs", "sha256", digest.slice(7));
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const named = index.manifests.find(
    (m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag,
  );
  const manifest = JSON.parse(readFileSync(blob(named.digest), "utf8"));
  return manifest.layers.map((layer) => blob(layer.digest));
}

try {
  for (const image of images) {
    console.log(`\n## ${image}\n`);
    const blobs = layerBlobs(image);
    const results = runRounds(
      {
        "strata analyse": () => timed(strata, ["analyse", "-q", image]),
        "strata unpack": (dir) => timed(strata, ["unpack", "-q", image, join(dir, "rootfs")]),
        "tar -t": () => timedShell(blobs.map((blob) => `tar -tzf ${blob} >/dev/null`).join(" && ")),
      },
      rounds,
      scratch,
    );
    printTable(
      "analyse against unpack and tar -t of each layer",
      results,
      { "strata analyse": "strata unpack", "tar -t": "strata unpack" },
      "against",
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
