import { BundleError } from "./errors.js";
import type { GroupEntry, PasswdEntry } from "./passwd.js";

/** process.user plus the HOME the user's passwd entry gives, if any. */
export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
  readonly home: string | undefined;
}

/** The container's account databases; undefined where the file does not exist. */
export interface AccountFiles {
  readonly passwd: readonly PasswdEntry[] | undefined;
  readonly group: readonly GroupEntry[] | undefined;
}

const NUMERIC = /^\d+$/;

function unknown(what: string, name: string, file: string, missing: boolean): BundleError {
  return new BundleError(
    "STRATA_UNKNOWN_USER",
    `${what} ${JSON.stringify(name)} is not in the image's ${file}` +
      `${missing ? " (the image has none)" : ""}`,
    {
      hint: `use a numeric id, or an image whose ${file} names it`,
    },
  );
}

/**
 * Resolves the image config's User (`user`, `uid`, `user:group`, `uid:gid`,
 * `uid:group`, `user:gid`; empty means root) through the image's own
 * /etc/passwd and /etc/group, as the image-spec's conversion rules say: with
 * no group given, the user's primary group and the groups that list the user
 * as a member apply; with a group given, member groups are ignored.
 */
export function resolveUser(spec: string, files: AccountFiles): ResolvedUser {
  const colon = spec.indexOf(":");
  const userPart = colon === -1 ? spec : spec.slice(0, colon);
  const groupPart = colon === -1 ? undefined : spec.slice(colon + 1);
  if (userPart === "" && groupPart !== undefined)
    throw new BundleError(
      "STRATA_BAD_RUNTIME_CONFIG",
      `User ${JSON.stringify(spec)} has a group but no user`,
    );
  const user = userPart === "" ? "0" : userPart;
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (NUMERIC.test(user)) {
    uid = Number(user);
    if (uid > 0xffffffff)
      throw new BundleError("STRATA_BAD_RUNTIME_CONFIG", `uid ${user} is out of range`);
    entry = files.passwd?.find((e) => e.uid === uid);
  } else {
    entry = files.passwd?.find((e) => e.name === user);
    if (entry === undefined) throw unknown("user", user, "/etc/passwd", files.passwd === undefined);
    uid = entry.uid;
  }
  if (groupPart !== undefined && groupPart !== "") {
    let gid: number;
    if (NUMERIC.test(groupPart)) gid = Number(groupPart);
    else {
      const group = files.group?.find((g) => g.name === groupPart);
      if (group === undefined)
        throw unknown("group", groupPart, "/etc/group", files.group === undefined);
      gid = group.gid;
    }
    return { uid, gid, additionalGids: [], home: entry?.home };
  }
  const name = entry?.name;
  const additionalGids =
    name === undefined
      ? []
      : [...new Set((files.group ?? []).filter((g) => g.members.includes(name)).map((g) => g.gid))];
  return { uid, gid: entry?.gid ?? 0, additionalGids, home: entry?.home };
}
