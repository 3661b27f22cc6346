/** One line of /etc/passwd. */
export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** One line of /etc/group. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

function id(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 0xffffffff ? value : undefined;
}

function lines(text: string): string[][] {
  return text
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"));
}

/**
 * Parses /etc/passwd. Malformed lines (too few fields, ids that are not
 * numbers) are skipped, as libc and runc skip them: a user only on such a
 * line is simply not found.
 */
export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).flatMap((f) => {
    const uid = id(f[2]);
    const gid = id(f[3]);
    const name = f[0];
    if (f.length < 7 || name === undefined || name === "" || uid === undefined || gid === undefined)
      return [];
    return [{ name, uid, gid, home: f[5] ?? "" }];
  });
}

/** Parses /etc/group, skipping malformed lines. */
export function parseGroup(text: string): GroupEntry[] {
  return lines(text).flatMap((f) => {
    const gid = id(f[2]);
    const name = f[0];
    if (f.length < 4 || name === undefined || name === "" || gid === undefined) return [];
    return [{ name, gid, members: (f[3] ?? "").split(",").filter((m) => m !== "") }];
  });
}
