// `--creds USER` without a password asks for it on the terminal, without
// echo, as skopeo and podman do. Synchronous: the flags are read before any
// work starts, and nothing else runs meanwhile.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { UsageError } from "./command.js";

/** The password for `user`, typed on the controlling terminal; a usage error without one. */
export function promptPassword(user: string): string {
  let tty: number;
  try {
    tty = openSync("/dev/tty", "r+");
  } catch {
    throw new UsageError(
      `--creds ${user} has no password and there is no terminal to ask on: ` +
        "give --creds USER:PASS, or --password",
    );
  }
  const stty = (flag: string): void => {
    spawnSync("stty", [flag], { stdio: [tty, "ignore", "ignore"] });
  };
  try {
    // Echo off before the prompt shows: nothing typed after it is echoed.
    stty("-echo");
    writeSync(tty, `Password for ${user}: `);
    const bytes: number[] = [];
    const one = Buffer.alloc(1);
    while (readSync(tty, one, 0, 1, null) === 1 && one[0] !== 0x0a && one[0] !== 0x0d)
      bytes.push(one[0] as number);
    return Buffer.from(bytes).toString("utf8");
  } finally {
    stty("echo");
    writeSync(tty, "\n");
    closeSync(tty);
  }
}

/**
 * The password piped in (`--password-stdin`, as podman and docker login take it): all of stdin,
 * one trailing newline dropped. Bounded: a password is not a file.
 */
export function passwordFromStdin(flag: string): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue;
      if ((error as NodeJS.ErrnoException).code === "EOF") break;
      throw new UsageError(`${flag}: stdin cannot be read (${(error as Error).message})`);
    }
    if (n === 0) break;
    total += n;
    if (total > 64 * 1024)
      throw new UsageError(`${flag}: more than 64 KiB on stdin is not a password`);
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  const text = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (text === "") throw new UsageError(`${flag}: stdin held no password`);
  return text;
}
