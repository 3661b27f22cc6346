import { counted } from "../cli/output.js";
import { mountImage, unmountImage } from "@strata-oci/store";
import { UsageError, type Command } from "../cli/command.js";
import { imageSource, JSON_FLAG, PLATFORM, REGISTRY, text } from "../cli/flags.js";
import { printResult } from "../cli/result-json.js";
import { interruptibly } from "../cli/signals.js";
import { printWarnings } from "../cli/warnings.js";
import { STORE_DEFAULT } from "./store-flags.js";

export const mountCommand: Command = {
  name: "mount",
  usage: ["strata mount [options] IMAGE TARGET"],
  summary: "mount IMAGE from the layer store (overlayfs)",
  description: `Mount IMAGE's merged tree on the existing directory TARGET with the kernel's
overlayfs, from ${STORE_DEFAULT}.
Layers the store lacks are stored first. The mount shows what strata unpack
writes, entry by entry: whiteouts are overlay whiteouts, opaque directories
carry trusted.overlay.opaque, parents that are symlinks in lower layers are
followed, hardlinks to lower files are copied up with all their names.
Read-only by default; --writable gives it an upper and work directory of its
own (like a container's rootfs), removed again by strata umount. Needs root.`,
  flags: [
    { name: "store", kind: "string", value: "DIR", help: "the layer store" },
    { name: "writable", kind: "boolean", help: "a private upper layer for changes" },
    PLATFORM,
    ...REGISTRY,
    JSON_FLAG,
  ],
  examples: [
    "strata mount oci:./debian:bookworm /mnt/debian && ls /mnt/debian &&",
    "  strata umount /mnt/debian",
  ],
  async run({ values, positionals }) {
    const [image, target, extra] = positionals;
    if (image === undefined || target === undefined || extra !== undefined)
      throw new UsageError("mount takes IMAGE and TARGET");
    const store = text(values, "store");
    const result = await interruptibly((signal) =>
      mountImage({
        ...imageSource(image, values),
        target,
        signal,
        ...(store === undefined ? {} : { store }),
        ...(values.writable === true ? { writable: true } : {}),
      }),
    );
    const { unpacked } = result;
    if (values.json === true) {
      const { target: mounted, store: root, options, upper } = result;
      printResult("mount", unpacked.image, {
        target: mounted,
        store: root,
        options,
        upper: upper ?? null,
        chainIds: unpacked.chainIds,
        written: unpacked.written,
        reused: unpacked.reused,
        warnings: unpacked.warnings,
      });
      return 0;
    }
    if (values.quiet === true) return 0;
    const changes = result.upper === undefined ? ", read-only" : `, changes in ${result.upper}`;
    process.stdout.write(
      `mounted ${unpacked.image.reference} on ${result.target} ` +
        `(${counted(unpacked.chainIds.length, "layer")}, ${unpacked.written} extracted now)` +
        `${changes}\n`,
    );
    printWarnings(unpacked.warnings);
    return 0;
  },
};

export const umountCommand: Command = {
  name: "umount",
  usage: ["strata umount [options] TARGET"],
  summary: "unmount what strata mount mounted",
  description: `Unmount what strata mount mounted on TARGET: the mount names its store and
its record, so no --store is needed. A writable mount's upper and work
directories (its changes) and its record are removed with it. Any other
mount (one strata did not make) is refused: use umount(8) for those.`,
  flags: [
    {
      name: "store",
      kind: "string",
      value: "DIR",
      help: "the store it must have come from (checked)",
    },
  ],
  examples: ["strata umount /mnt/debian"],
  async run({ values, positionals }) {
    const [target, extra] = positionals;
    if (target === undefined || extra !== undefined) throw new UsageError("umount takes TARGET");
    const store = text(values, "store");
    const result = unmountImage({ target, ...(store === undefined ? {} : { store }) });
    const removed = result.removed === undefined ? "" : `; its changes (${result.removed}) removed`;
    if (values.quiet !== true)
      process.stdout.write(
        `unmounted ${result.target} (from the store ${result.store})${removed}\n`,
      );
    return 0;
  },
};
