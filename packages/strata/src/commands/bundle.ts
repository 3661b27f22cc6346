import { counted } from "../cli/output.js";
import { bundle, bundleFromStore } from "@strata-oci/bundle";
import { escapeText } from "@strata-oci/layer";
import { printResult } from "../cli/result-json.js";
import { UsageError, type Command, type FlagValues } from "../cli/command.js";
import { text } from "../cli/flags.js";
import {
  startBlobWorkers,
  UNPACK_FLAGS,
  UNPACK_LIMITS,
  withUnpackFlags,
} from "../cli/unpack-flags.js";
import { printWarnings } from "../cli/warnings.js";

function commandArgsOf(
  value: string | undefined,
  trailing: readonly string[],
): string[] | undefined {
  if (trailing.length > 0) return [...trailing];
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError(
      `--args takes a JSON list such as '["/bin/sh","-c","id"]' (or put the command after --)`,
    );
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length === 0 ||
    !parsed.every((a) => typeof a === "string")
  ) {
    throw new UsageError("--args must be a non-empty JSON list of strings");
  }
  return parsed;
}

interface Overrides {
  readonly tty?: boolean;
  readonly args?: string[];
  readonly env?: string[];
  readonly cwd?: string;
  readonly user?: string;
}

/** What the command line changes in config.json, the same for both kinds of bundle. */
function overridesOf(values: FlagValues, trailing: readonly string[]): Overrides {
  const args = commandArgsOf(text(values, "args"), trailing);
  const cwd = text(values, "cwd");
  const user = text(values, "user");
  return {
    ...(values.tty === true ? { tty: true } : {}),
    ...(args === undefined ? {} : { args }),
    ...(Array.isArray(values.env) ? { env: values.env } : {}),
    ...(cwd === undefined ? {} : { cwd }),
    ...(user === undefined ? {} : { user }),
  };
}

async function storeBundle(
  image: string,
  dir: string,
  store: string,
  values: FlagValues,
  overrides: Overrides,
): Promise<number> {
  const stored = await withUnpackFlags(
    values,
    ({ onProgress: _progress, downloads: _downloads, record: _record, ...shared }) =>
      bundleFromStore({ image, dir, store, ...shared, ...overrides }),
  );
  if (values.json === true)
    printResult("bundle", stored.mount.unpacked.image, {
      dir,
      rootfs: { mount: stored.mount.target, store: stored.mount.store },
      config: stored.config,
      warnings: [...stored.mount.unpacked.warnings, ...stored.warnings],
    });
  else if (values.quiet !== true) {
    process.stdout.write(
      `bundle ${dir}: config.json, and rootfs mounted from the store ${stored.mount.store} ` +
        `(writable; strata umount ${dir}/rootfs when done); run it with: runc run -b ${dir} ID\n`,
    );
  }
  for (const w of stored.warnings) process.stderr.write(`warning: ${escapeText(w.detail)}\n`);
  return 0;
}

export const bundleCommand: Command = {
  name: "bundle",
  usage: ["strata bundle [options] IMAGE DIR [-- COMMAND ARGS...]"],
  summary: "write a runtime bundle (config.json + rootfs) for runc",
  description: `Write an OCI runtime bundle that runc starts: DIR/rootfs (as strata unpack
writes it) and DIR/config.json from the image's config, following the
image-spec's conversion rules and runc's defaults (namespaces, /proc, /dev,
/sys, masked paths, capabilities, noNewPrivileges). DIR is created 0700 and
appears only when complete. The user is resolved through the image's own
/etc/passwd and /etc/group (regular files only); Volumes become tmpfs mounts.

With --store DIR, rootfs is IMAGE mounted from the layer store DIR (see
strata help mount) with an upper directory of its own: nothing is copied;
strata umount DIR/rootfs removes the mount and its changes. Needs root.
The options are unpack's, and those for config.json below; --rootless also
gives a user namespace mapping you to root, no network namespace and no
cgroup mount (as runc spec --rootless): only your uid can be mapped, so an
image user other than root runs as root in the namespace (with a warning).`,
  flags: [
    ...UNPACK_FLAGS.map((flag) =>
      flag.name === "json"
        ? { ...flag, help: "print the result (config.json in it) as JSON" }
        : flag,
    ),
    {
      name: "tty",
      kind: "boolean",
      help:
        "allocate a terminal (terminal: true, TERM=xterm when the image sets no TERM); " +
        "default no terminal",
    },
    {
      name: "args",
      kind: "string",
      value: "JSON",
      help: `the command, as a JSON list: '["/bin/sh","-c","id"]' (or write it after --)`,
    },
    { name: "env", kind: "list", value: "K=V", help: "set an environment variable (repeatable)" },
    {
      name: "cwd",
      kind: "string",
      value: "DIR",
      help: "working directory (default: the image's, or /)",
    },
    {
      name: "user",
      kind: "string",
      value: "USER[:GROUP]",
      help: "user, as name, uid, name:group, uid:gid, ...",
    },
  ],
  sections: [UNPACK_LIMITS],
  trailingArgs: true,
  examples: [
    "strata bundle oci:./busybox:latest bundle -- /bin/sh -c 'id; pwd'",
    "runc run -b bundle demo",
  ],
  async run({ values, positionals, trailing }) {
    const [image, dir, extra] = positionals;
    if (image === undefined || dir === undefined || extra !== undefined)
      throw new UsageError("bundle takes IMAGE and DIR (put a command after --)");
    const overrides = overridesOf(values, trailing);
    if (typeof values.store === "string")
      return storeBundle(image, dir, values.store, values, overrides);
    startBlobWorkers();
    const result = await withUnpackFlags(values, (shared) =>
      bundle({ image, dir, ...shared, ...overrides }),
    );
    if (values.json === true)
      printResult("bundle", result.unpack.image, {
        dir,
        rootfs: { entries: result.unpack.entries, bytes: result.unpack.bytes },
        config: result.config,
        warnings: [...result.unpack.warnings, ...result.warnings],
      });
    else if (values.quiet !== true) {
      const u = result.unpack;
      process.stdout.write(
        `bundle ${dir}: config.json and rootfs (${counted(u.layers, "layer")}, ` +
          `${counted(u.entries, "entry", "entries")}) from ${u.image.reference}; ` +
          `run it with: runc run -b ${dir} ID\n`,
      );
      printWarnings(u.warnings);
    }
    for (const w of result.warnings) process.stderr.write(`warning: ${escapeText(w.detail)}\n`);
    return 0;
  },
};
