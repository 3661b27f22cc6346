// A registry of the tests' own on loopback, serving one image from an OCI
// layout through the distribution API, whose answers a test can replace one
// request at a time: the malicious registry of the hostile tests. One port
// speaks both TLS and plain HTTP (told apart by the first byte), so that a
// redirect from https:// to http:// on the same host and port can be seen.
import { readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type Socket } from "node:net";
import { join } from "node:path";
import type { TestCertificates } from "./registry.js";

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly tls: boolean;
  readonly authorization: string | undefined;
  readonly range: string | undefined;
}

/** A replacement answer: return true when it answered the request. */
export type Hook = (
  req: IncomingMessage,
  res: ServerResponse,
  seen: SeenRequest,
) => boolean | Promise<boolean>;

export interface HostileRegistry {
  readonly host: string;
  readonly port: number;
  /** Every request, in order. */
  readonly seen: SeenRequest[];
  /** Tried in order before the image is served; cleared by `reset`. */
  hooks: Hook[];
  /** The served image's manifest digest and bytes, and its layers' digests. */
  readonly manifest: { readonly digest: string; readonly body: Buffer; readonly mediaType: string };
  readonly layers: readonly string[];
  /** A blob of the served image. */
  blob(digest: string): Buffer | undefined;
  reset(): void;
  stop(): Promise<void>;
}

interface Served {
  readonly manifest: HostileRegistry["manifest"];
  readonly layers: string[];
  readonly blob: (digest: string) => Buffer | undefined;
}

/** The first manifest of the layout's index.json, and its blobs. */
function servedImage(layout: string): Served {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string; mediaType: string }>;
  };
  const top = index.manifests[0] as { digest: string; mediaType: string };
  const blob = (digest: string): Buffer | undefined => {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) return undefined;
    try {
      return readFileSync(join(layout, "blobs", "sha256", digest.slice(7)));
    } catch {
      return undefined;
    }
  };
  const body = blob(top.digest) as Buffer;
  const layers = (
    JSON.parse(body.toString("utf8")) as { layers: Array<{ digest: string }> }
  ).layers.map((l) => l.digest);
  return {
    manifest: {
      digest: top.digest,
      body,
      mediaType: top.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
    },
    layers,
    blob,
  };
}

/**
 * Serves the image of `layout` as `<anything>/manifests/<tag or its digest>` and its blobs; TLS too
 * when `tls` is given.
 */
export async function startHostileRegistry(
  layout: string,
  tls?: TestCertificates,
): Promise<HostileRegistry> {
  const served = servedImage(layout);
  const state = { seen: [] as SeenRequest[], hooks: [] as Hook[] };
  const app =
    (secure: boolean) =>
    async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const path = req.url ?? "/";
      const seen: SeenRequest = {
        method: req.method ?? "GET",
        path,
        tls: secure,
        authorization: req.headers.authorization,
        range: req.headers.range,
      };
      state.seen.push(seen);
      for (const hook of state.hooks) if (await hook(req, res, seen)) return;
      if (path === "/v2/") return void res.writeHead(200).end("{}");
      const manifest = /\/manifests\/([^/]+)$/.exec(path)?.[1];
      if (manifest !== undefined) {
        const { body, mediaType, digest } = served.manifest;
        if (manifest.includes(":") && manifest !== digest) return void res.writeHead(404).end();
        return void res
          .writeHead(200, {
            "content-type": mediaType,
            "content-length": String(body.length),
            "docker-content-digest": digest,
          })
          .end(body);
      }
      const blob = /\/blobs\/([^/]+)$/.exec(path)?.[1];
      const data = blob === undefined ? undefined : served.blob(blob);
      if (data === undefined) return void res.writeHead(404).end();
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      if (range !== null) {
        const start = Number(range[1]);
        return void res
          .writeHead(206, {
            "content-range": `bytes ${start}-${data.length - 1}/${data.length}`,
            "content-length": String(data.length - start),
          })
          .end(data.subarray(start));
      }
      res.writeHead(200, { "content-length": String(data.length) }).end(data);
    };
  const plain = createHttpServer((req, res) => void app(false)(req, res));
  const secure =
    tls === undefined
      ? undefined
      : createHttpsServer(
          { key: readFileSync(tls.serverKey), cert: readFileSync(tls.serverCert) },
          (req, res) => void app(true)(req, res),
        );
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      // A TLS record starts with 0x16 (handshake).
      (first[0] === 0x16 && secure !== undefined ? secure : plain).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  const address = front.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return Object.assign(state, {
    host: `127.0.0.1:${port}`,
    port,
    manifest: served.manifest,
    layers: served.layers,
    blob: served.blob,
    reset: () => {
      state.hooks = [];
      state.seen.length = 0;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  });
}

/** Answers with `status`, headers and body. */
export function answer(
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
  body: string | Buffer = "",
): true {
  res.writeHead(status, headers).end(body);
  return true;
}
