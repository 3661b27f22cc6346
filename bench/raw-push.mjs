// The floor of a push (issue #22): what the registry takes from a client
// that does nothing but send. Each blob of the manifest SOURCE_TAG names in
// the layout POSTed, PATCHed whole from its file and PUT with its digest
// (the layers three at a time, as strata and skopeo send them), then the
// manifest PUT by tag: no HEAD, no verification, no retries, no auth.
//   node bench/raw-push.mjs LAYOUT SOURCE_TAG HOST REPO TAG
import { createReadStream, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

const [layout, sourceTag, host, repo, tag] = process.argv.slice(2);
const blob = (digest) => join(layout, "blobs", "sha256", digest.slice(7));

function call(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url, `http://${host}`), { method, headers }, (res) => {
      res.resume();
      res.on("end", () =>
        res.statusCode >= 300
          ? reject(new Error(`${method} ${url}: ${res.statusCode}`))
          : resolve(res),
      );
    });
    req.on("error", reject);
    if (body === undefined || Buffer.isBuffer(body)) req.end(body);
    else pipeline(body, req).catch(reject);
  });
}

async function send({ digest, size }) {
  const started = await call("POST", `/v2/${repo}/blobs/uploads/`, { "content-length": "0" });
  const patched = await call(
    "PATCH",
    started.headers.location,
    { "content-type": "application/octet-stream", "content-length": String(size) },
    createReadStream(blob(digest), { highWaterMark: 1 << 20 }),
  );
  const done = new URL(patched.headers.location, `http://${host}`);
  done.searchParams.set("digest", digest);
  await call("PUT", done.href, { "content-length": "0" });
}

const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
const named = index.manifests.find(
  (m) => m.annotations?.["org.opencontainers.image.ref.name"] === sourceTag,
);
const body = readFileSync(blob(named.digest));
const manifest = JSON.parse(body.toString("utf8"));
const queue = [...manifest.layers, manifest.config];
await Promise.all(
  Array.from({ length: 3 }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await send(next);
  }),
);
await call(
  "PUT",
  `/v2/${repo}/manifests/${tag}`,
  { "content-type": manifest.mediaType ?? named.mediaType },
  body,
);
