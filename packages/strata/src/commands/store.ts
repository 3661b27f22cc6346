import { counted, sizeText } from "../cli/output.js";
import { escapeText } from "@strata-oci/layer";
import { storeGc, storeList, storeRemove, storeUsage } from "@strata-oci/store";
import { printJson } from "../cli/result-json.js";
import { UsageError, type Command, type FlagValues } from "../cli/command.js";
import { JSON_FLAG, text } from "../cli/flags.js";
import { interruptibly } from "../cli/signals.js";
import { STORE_DEFAULT } from "./store-flags.js";

/** What each store action prints: its result as JSON, or as text. */
async function action(
  name: string | undefined,
  image: string | undefined,
  values: FlagValues,
): Promise<{ json: object; text: string }> {
  const store = text(values, "store");
  const where = store === undefined ? {} : { store };
  switch (name) {
    case "ls": {
      const layers = storeList(where);
      const users = (images: readonly string[]): string =>
        images.length === 0 ? "(no image: gc removes it)" : escapeText(images.join(", "));
      return {
        json: { layers },
        text: layers
          .map(
            (l) =>
              `${l.chainId}  ${String(l.entries).padStart(7)} entries ` +
              `${sizeText(l.bytes).padStart(10)}  ${users(l.images)}\n`,
          )
          .join(""),
      };
    }
    case "du": {
      const usage = storeUsage(where);
      const text =
        `${counted(usage.layers, "layer")}, ${sizeText(usage.bytes)} of file data for ` +
        `${counted(usage.images, "image")}; sharing saves ${sizeText(usage.sharedBytes)}; ` +
        `${counted(usage.unusedLayers, "layer")} unused\n`;
      return { json: usage, text };
    }
    case "gc": {
      const result = await interruptibly((signal) => storeGc({ ...where, signal }));
      return {
        json: result,
        text: `removed ${counted(result.removed.length, "layer")} (${sizeText(result.bytes)})\n`,
      };
    }
    case "rm": {
      if (image === undefined) throw new UsageError("store rm takes IMAGE");
      const platform = text(values, "platform");
      const result = await storeRemove({
        ...where,
        image,
        ...(platform === undefined ? {} : { platform }),
      });
      const names = result.removed.map((kept) =>
        kept.platform === "" ? kept.reference : `${kept.reference} (${kept.platform})`,
      );
      return {
        json: result,
        text:
          `no longer keeping ${names.join(", ")} ` +
          "(strata store gc removes its layers no other image uses)\n",
      };
    }
    default:
      throw new UsageError("store takes ls, du, gc or rm");
  }
}

export const storeCommand: Command = {
  name: "store",
  usage: ["strata store ls|du|gc|rm [options] [IMAGE]"],
  summary: "the layer store: layers, sizes, cleanup",
  description: `Look after ${STORE_DEFAULT}.

  strata store ls         every stored layer: chain ID, entries, bytes, the
                          images that use it
  strata store du         bytes stored, and how much of it images share
  strata store rm IMAGE   stop keeping IMAGE, every platform of it or the one
                          --platform names (its layers stay until gc)
  strata store gc         remove the layers no kept image and no mount uses;
                          waits while an image is being stored

The store must be yours alone: one another user could have written (its
owner, its mode, a directory above it) is refused, as is a damaged record.`,
  flags: [
    { name: "store", kind: "string", value: "DIR", help: "the layer store" },
    {
      name: "platform",
      kind: "string",
      value: "P",
      help: "store rm: only this platform (os/arch[/variant])",
    },
    JSON_FLAG,
  ],
  examples: ["strata store rm oci:./app:1 && strata store gc"],
  async run({ values, positionals }) {
    const [name, image, extra] = positionals;
    if ((name !== "rm" && image !== undefined) || extra !== undefined)
      throw new UsageError(`store ${name ?? ""} takes no further arguments`);
    if (name === undefined) throw new UsageError("store takes ls, du, gc or rm");
    const result = await action(name, image, values);
    if (values.json === true) printJson(`store ${name}`, result.json);
    else process.stdout.write(result.text);
    return 0;
  },
};
