// A forward proxy of the tests' own on loopback, as tinyproxy or squid serve
// one: CONNECT tunnels (https) and absolute-URL requests (plain http). It
// resolves names itself from `names` (registry.strata.test is no DNS name:
// a request that reaches it went through the proxy), logs what it was asked,
// may demand Proxy-Authorization, and may refuse tunnels.
import { createServer, request, type IncomingMessage } from "node:http";
import { connect, type AddressInfo } from "node:net";

export interface TestProxy {
  readonly url: string;
  readonly log: Array<{ method: string; target: string; authorized: boolean }>;
  /** Refuse every CONNECT with this status. */
  refuseWith: number | undefined;
  stop(): Promise<void>;
}

export async function startProxy(
  names: Readonly<Record<string, string>>,
  credentials?: string,
): Promise<TestProxy> {
  const resolve = (host: string): string => names[host] ?? host;
  const state: TestProxy["log"] = [];
  const authorized = (req: IncomingMessage): boolean =>
    credentials === undefined ||
    req.headers["proxy-authorization"] === `Basic ${Buffer.from(credentials).toString("base64")}`;
  const proxy: { refuseWith: number | undefined } = { refuseWith: undefined };
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? "/");
    state.push({ method: req.method ?? "", target: target.host, authorized: authorized(req) });
    if (!authorized(req)) {
      res.writeHead(407, { "proxy-authenticate": 'Basic realm="test"' }).end();
      return;
    }
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    const upstream = request(
      {
        host: resolve(target.hostname),
        port: target.port || 80,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on("connect", (req: IncomingMessage, client, head: Buffer) => {
    const [host = "", port = "443"] = (req.url ?? "").split(/:(?=\d+$)/);
    state.push({ method: "CONNECT", target: req.url ?? "", authorized: authorized(req) });
    if (!authorized(req) || proxy.refuseWith !== undefined) {
      const status = authorized(req) ? (proxy.refuseWith as number) : 407;
      client.end(`HTTP/1.1 ${status} Refused\r\n\r\n`);
      return;
    }
    const upstream = connect(Number(port), resolve(host.replace(/^\[|\]$/g, "")), () => {
      track(upstream);
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
    client.on("error", () => upstream.destroy());
  });
  // Tunnels are sockets the server no longer tracks: kept here, to be ended at stop.
  const sockets = new Set<import("node:net").Socket>();
  const track = (socket: import("node:net").Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  server.on("connection", track);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${credentials === undefined ? "" : `${credentials}@`}127.0.0.1:${port}`,
    log: state,
    get refuseWith() {
      return proxy.refuseWith;
    },
    set refuseWith(status) {
      proxy.refuseWith = status;
    },
    stop: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
