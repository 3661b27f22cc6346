import { describe, expect, it } from "vitest";
import { chainIds } from "@strata-oci/image";

// Known values, computed outside strata with the image-spec's definition (config.md, "Layer
// ChainID"):
//   printf '%s %s' "$previous" "$diff_id" | sha256sum
// A chain ID computed another way is self-consistent, so nothing inside strata would notice;
// the store's directories and every other tool's layer store (containerd, docker) would.
// sha256 of "layer one", "layer two", "layer three".
const D1 = "sha256:f191e625176e7514249870c60bc24622131b04927a418001d1969c9cecd260f1";
const D2 = "sha256:77c7ed05b2e49df2e55d70cb007508cc66b2f5419a940bfd6f8749ba7db77c45";
const D3 = "sha256:6483085b79dcef99d4d90b43a910666cdce078bf772da453728f8c385fbfdf2f";

describe("chain IDs", () => {
  it(
    "are the image-spec's: the first layer's diff_id, then sha256 of \"<previous> " + '<diff_id>"',
    () => {
      expect(chainIds([D1, D2, D3])).toEqual([
        D1,
        "sha256:d440fc2ac5bfa225471b58c5d6b4283504f5dfbcd6251023a635cdcd0c058e3e",
        "sha256:952689aceeac7e377b602804de533a4ad47ba634e3917ca7cb071e5ff2bff6cd",
      ]);
      expect(chainIds([])).toEqual([]);
    },
  );
});
