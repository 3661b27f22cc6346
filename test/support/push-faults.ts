// A loopback proxy in front of a registry that breaks pushes the ways
// registries and networks break them: a refused upload (403), a PUT too large
// for it (413), a digest it disputes (400 DIGEST_INVALID), a PATCH cut off
// before it arrives, a Location that is no URL, and an upload URL on another
// host (a second port that logs whether credentials came along). Everything
// else is forwarded as it is, and every request logged.
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface PushFaults {
  denyUploads?: boolean;
  /** A PUT with a body (monolithic) is refused as too large. */
  refuseLargePut?: boolean;
  /** The PUT that ends an upload is answered 400 DIGEST_INVALID. */
  disputeDigest?: boolean;
  /** The PATCH of this number (1 for the first) is cut off before any of it reaches the registry. */
  cutPatch?: number;
  /** Uploads are given a Location that is no URL. */
  badLocation?: boolean;
  /** Uploads are given a Location on the second port (another origin). */
  foreignLocation?: boolean;
}

export interface PushProxy {
  readonly host: string;
  readonly log: Array<{
    method: string;
    path: string;
    status: number;
    port: "main" | "foreign";
    authorization: boolean;
    range?: string;
  }>;
  faults: PushFaults;
  stop(): Promise<void>;
}

export async function startPushProxy(upstream: string): Promise<PushProxy> {
  const state: { faults: PushFaults; patches: number } = { faults: {}, patches: 0 };
  const log: PushProxy["log"] = [];
  let foreignHost = "";
  let mainHost = "";
  const forward = (req: IncomingMessage, res: ServerResponse, port: "main" | "foreign"): void => {
    const [host, portText] = upstream.split(":");
    const out = request(
      {
        host,
        port: Number(portText),
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream },
      },
      (answer) => {
        const headers = { ...answer.headers };
        const location = headers.location;
        // Locations point back at this proxy, so that every later request passes through it.
        if (location !== undefined) {
          const target = new URL(location, `http://${upstream}`);
          target.host = state.faults.foreignLocation && port === "main" ? foreignHost : mainHost;
          headers.location = state.faults.badLocation ? "http://[not-a-url" : target.href;
        }
        log.push({
          method: req.method ?? "",
          path: req.url ?? "",
          status: answer.statusCode ?? 0,
          port,
          authorization: req.headers.authorization !== undefined,
          ...(req.headers["content-range"] === undefined
            ? {}
            : { range: String(req.headers["content-range"]) }),
        });
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  };
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    code: string,
  ): void => {
    req.resume();
    log.push({
      method: req.method ?? "",
      path: req.url ?? "",
      status,
      port: "main",
      authorization: req.headers.authorization !== undefined,
    });
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code, message: `the test says ${code}` }] }));
  };
  const main = createServer((req, res) => {
    const f = state.faults;
    const path = req.url ?? "";
    const upload = /\/blobs\/uploads\//.test(path);
    if (upload && req.method === "POST" && f.denyUploads === true)
      return refuse(req, res, 403, "DENIED");
    const withBody = Number(req.headers["content-length"] ?? 0) > 0;
    if (upload && req.method === "PUT" && withBody && f.refuseLargePut === true)
      return refuse(req, res, 413, "SIZE_INVALID");
    if (upload && req.method === "PUT" && f.disputeDigest === true)
      return refuse(req, res, 400, "DIGEST_INVALID");
    if (upload && req.method === "PATCH" && ++state.patches === f.cutPatch) {
      log.push({
        method: "PATCH",
        path,
        status: 0,
        port: "main",
        authorization: true,
        range: String(req.headers["content-range"]),
      });
      req.socket.destroy();
      return;
    }
    forward(req, res, "main");
  });
  const foreign = createServer((req, res) => forward(req, res, "foreign"));
  await new Promise<void>((done) => main.listen(0, "127.0.0.1", done));
  await new Promise<void>((done) => foreign.listen(0, "127.0.0.1", done));
  mainHost = `127.0.0.1:${(main.address() as AddressInfo).port}`;
  foreignHost = `127.0.0.1:${(foreign.address() as AddressInfo).port}`;
  return {
    host: mainHost,
    log,
    get faults() {
      return state.faults;
    },
    set faults(faults) {
      state.faults = faults;
      state.patches = 0;
    },
    stop: async () => {
      for (const server of [main, foreign]) {
        server.closeAllConnections();
        await new Promise<void>((done) => server.close(() => done()));
      }
    },
  };
}
