// Issue #26.7 and #26.11: what an image says reaches people through strata's
// text output. ESC sequences, BEL, CR, LF, DEL, C1 controls and bidi
// overrides in names, link targets, labels, annotations, author, volumes,
// ports, platform fields and artifact types are escaped in every line strata
// prints (GNU ls escapes them too); --json stays valid and exact; a name
// that is not UTF-8 has a spelling of its own that `cat` takes back.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "@strata-oci/image";
import { tempDir, writeTar, type TarMember } from "@strata-oci/testing";

const BIN = join(import.meta.dirname, "..", "bin", "strata.js");
const work = tempDir("strata-terminal-");
afterAll(() => work.remove());

const EVIL = [
  "\u001b]0;pwned\u0007",
  "\u001b[2J",
  "a\rb",
  "line\nbreak",
  "del\u007f",
  "csi\u009b31m",
  "bidi\u202egnp.exe",
];

function run(args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString("utf8") };
}

/**
 * Bytes a terminal would obey: C0 controls but the line ends, DEL, and the UTF-8 of C1 controls and
 * bidi overrides.
 */
function obeyed(bytes: Buffer): string[] {
  const found: string[] = [];
  for (const [i, byte] of bytes.entries())
    if ((byte < 0x20 && byte !== 0x0a) || byte === 0x7f)
      found.push(`0x${byte.toString(16)} at ${i}`);
  const text = bytes.toString("utf8");
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (
      (code >= 0x80 && code <= 0x9f) ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069)
    )
      found.push(`U+${code.toString(16)}`);
  }
  return found;
}

const notUtf8A = Buffer.from([0x66, 0xe9, 0x74, 0x65]); // "f\xe9te" (latin1)
const notUtf8B = Buffer.from([0x66, 0xe8, 0x74, 0x65]); // "f\xe8te"
const backslashed = Buffer.from("back\\x41slash");

function layout(): string {
  const dir = join(work.path, "image");
  const members: TarMember[] = [
    { name: "etc/", type: "dir" },
    ...EVIL.map((name, i): TarMember => ({ name: `etc/${name}`, type: "file", data: `evil ${i}` })),
    { name: "etc/link", type: "symlink", linkname: EVIL[0] as string },
    { name: Buffer.concat([Buffer.from("etc/"), notUtf8A]), type: "file", data: "first" },
    { name: Buffer.concat([Buffer.from("etc/"), notUtf8B]), type: "file", data: "second" },
    { name: Buffer.concat([Buffer.from("etc/"), backslashed]), type: "file", data: "backslash" },
  ];
  writeOciLayout(dir, {
    layers: [{ tar: writeTar(members) }],
    tag: "t",
    runtime: {
      Cmd: ["/bin/sh"],
      Labels: Object.fromEntries(EVIL.map((v, i) => [`label${i}${v}`, v])),
      Volumes: Object.fromEntries(EVIL.map((v) => [`/data/${v}`, {}])),
      ExposedPorts: { [`80/tcp${EVIL[0]}`]: {} },
      Env: EVIL.map((v) => `X=${v}`),
    },
    configOverrides: { author: EVIL.join(" "), variant: `v8${EVIL[1]}` },
  });
  return `oci:${dir}:t`;
}

describe("text output escapes what an image holds", () => {
  const image = layout();

  it(
    "ls -R: names and link targets escaped, two undecodable names told apart; --json valid " +
      "and exact",
    () => {
      const listed = run(["ls", "-R", image]);
      expect(listed.status, listed.stderr).toBe(0);
      expect(obeyed(listed.stdout)).toEqual([]);
      const text = listed.stdout.toString("utf8");
      expect(text).toContain("/etc/\\x1b]0;pwned\\x07");
      expect(text).toContain("/etc/csi\\u{9b}31m");
      expect(text).toContain("/etc/f\\xe9te");
      expect(text).toContain("/etc/f\\xe8te");
      expect(text).toContain("/etc/back\\\\x41slash");
      const json = (
        JSON.parse(run(["ls", "-R", "--json", image]).stdout.toString("utf8")) as {
          entries: Array<{ path: string; pathBase64?: string; target?: string }>;
        }
      ).entries;
      for (const name of EVIL) expect(json.map((e) => e.path)).toContain(`etc/${name}`);
      expect(json.find((e) => e.path === "etc/link")?.target).toBe(EVIL[0]);
      const undecodable = json
        .filter((e) => e.pathBase64 !== undefined)
        .map((e) => Buffer.from(e.pathBase64 as string, "base64").toString("hex"));
      expect(undecodable.sort()).toEqual(
        [
          Buffer.concat([Buffer.from("etc/"), notUtf8B]),
          Buffer.concat([Buffer.from("etc/"), notUtf8A]),
        ]
          .map((b) => b.toString("hex"))
          .sort(),
      );
    },
  );

  it("cat takes the spelling ls prints: a name that is not UTF-8, and one with a backslash", () => {
    expect(run(["cat", image, "/etc/f\\xe9te"]).stdout.toString()).toBe("first");
    expect(run(["cat", image, "/etc/f\\xe8te"]).stdout.toString()).toBe("second");
    expect(run(["cat", image, "/etc/back\\\\x41slash"]).stdout.toString()).toBe("backslash");
    expect(run(["cat", image, "/etc/\\x1b[2J"]).stdout.toString()).toBe("evil 1");
  });

  it("inspect: labels, volumes, ports, env, author and platform escaped; --json exact", () => {
    const shown = run(["inspect", image]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(obeyed(shown.stdout)).toEqual([]);
    expect(shown.stdout.toString()).toContain("\\x1b]0;pwned\\x07");
    const json = JSON.parse(run(["inspect", "--json", image]).stdout.toString("utf8")) as {
      config: { author: string; labels: Record<string, string> };
    };
    expect(json.config.author).toBe(EVIL.join(" "));
    expect(Object.values(json.config.labels).sort()).toEqual([...EVIL].sort());
  });

  it("an error that names an entry (STRATA_UNSAFE_PATH) escapes it", () => {
    const dir = join(work.path, "unsafe");
    writeOciLayout(dir, {
      layers: [
        { tar: writeTar([{ name: `../\u001b[31mescape${EVIL[0]}`, type: "file", data: "x" }]) },
      ],
      tag: "t",
    });
    const refused = run(["unpack", `oci:${dir}:t`, join(work.path, "unsafe-dest")]);
    expect(refused.stderr).toContain("code: STRATA_UNSAFE_PATH");
    expect(obeyed(Buffer.from(refused.stderr))).toEqual([]);
  });
});
