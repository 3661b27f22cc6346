// The TLS context a registry connection uses: the CAs of a certs.d directory (and the system's
// bundle) are added to the context's copy of Node's store, so Node's bundled roots stay trusted
// beside them. Which CAs a context holds is seen from the handshake's error: a leaf whose issuer name is a bundled root's
// but which that root never signed fails its signature check (the root was found), a leaf from an
// unknown issuer fails for want of one.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, createServer, rootCertificates, type SecureContext } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "@strata-oci/testing";
import { tlsContextFor } from "../src/registry/registry-tls.js";

const work = tempDir("strata-registry-tls-");
afterAll(() => work.remove());

function openssl(...args: string[]): void {
  const run = spawnSync("openssl", args, { encoding: "utf8", cwd: work.path });
  if (run.status !== 0) throw new Error(`openssl ${args[0]}: ${run.stderr}`);
}

/** A self-signed RSA CA named `subject` ("/C=../O=../CN=.."): key and certificate files. */
function ca(name: string, subject: string): { key: string; cert: string } {
  const [key, cert] = [join(work.path, `${name}.key`), join(work.path, `${name}.crt`)];
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    subject,
  );
  return { key, cert };
}

/** A leaf for 127.0.0.1 signed by `issuer`, naming it only by name (no key identifier). */
function leaf(name: string, issuer: { key: string; cert: string }): { key: string; cert: string } {
  const [key, csr, cert] = ["key", "csr", "crt"].map((ext) => join(work.path, `${name}.${ext}`));
  const ext = join(work.path, `${name}.ext`);
  writeFileSync(
    ext,
    "subjectAltName=IP:127.0.0.1\nauthorityKeyIdentifier=none\nsubjectKeyIdentifier=none\n",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key as string,
    "-out",
    csr as string,
    "-subj",
    "/CN=127.0.0.1",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    csr as string,
    "-CA",
    issuer.cert,
    "-CAkey",
    issuer.key,
    "-CAcreateserial",
    "-out",
    cert as string,
    "-days",
    "2",
    "-extfile",
    ext,
  );
  return { key: key as string, cert: cert as string };
}

/** The handshake's outcome with `secureContext`: "ok", or the verification error's code. */
async function handshake(
  server: { key: string; cert: string },
  secureContext: SecureContext | undefined,
): Promise<string> {
  const listening = createServer(
    { key: readFileSync(server.key), cert: readFileSync(server.cert) },
    (socket) => socket.end(),
  );
  await new Promise<void>((done) => listening.listen(0, "127.0.0.1", done));
  const { port } = listening.address() as { port: number };
  try {
    return await new Promise<string>((done) => {
      const socket = connect({
        host: "127.0.0.1",
        port,
        ...(secureContext ? { secureContext } : {}),
      });
      socket.once("secureConnect", () => (socket.destroy(), done("ok")));
      socket.once("error", (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    });
  } finally {
    listening.close();
  }
}

describe("registry TLS contexts", () => {
  it("a certs.d CA is trusted, and Node's bundled roots with it", async () => {
    // A bundled RSA root with a plain name: its name is forged below.
    const root = rootCertificates
      .map((pem) => new X509Certificate(pem))
      .find(
        (cert) =>
          cert.publicKey.asymmetricKeyType === "rsa" &&
          !/[/\\,+"=]/.test(
            cert.subject
              .split("\n")
              .map((part) => part.split("=").slice(1).join("="))
              .join(""),
          ),
      );
    if (root === undefined) throw new Error("no bundled RSA root with a plain name");
    const forged = ca("forged-root", `/${root.subject.split("\n").join("/")}`);
    const unknown = ca("unknown", "/O=strata test/CN=nobody's root");
    const mine = ca("mine", "/O=strata test/CN=certs.d CA");
    const certsD = join(work.path, "certs.d");
    mkdirSync(certsD);
    writeFileSync(join(certsD, "mine.crt"), readFileSync(mine.cert));

    const context = tlsContextFor([certsD]).secureContext;
    expect(context).toBeDefined();
    expect(await handshake(leaf("from-mine", mine), context)).toBe("ok");
    expect(await handshake(leaf("under-root-name", forged), context)).toBe(
      "CERT_SIGNATURE_FAILURE",
    );
    expect(await handshake(leaf("from-unknown", unknown), context)).toBe(
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    );
    // Node's default context tells the same two apart: the test sees what it claims to.
    expect(await handshake(leaf("under-root-name-2", forged), undefined)).toBe(
      "CERT_SIGNATURE_FAILURE",
    );
    expect(await handshake(leaf("from-mine-2", mine), undefined)).toBe(
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    );
  });
});
