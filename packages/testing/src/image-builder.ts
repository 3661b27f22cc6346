import { writeOciLayout } from "@strata-oci/image";
import { writeTar, type TarMember } from "@strata-oci/layer";
import type { LayerInput } from "./outcomes.js";

/**
 * Writes a stack of layers (member lists, or tars a producer wrote) as an
 * OCI image layout in `dir`, gzip-compressed, tagged `tag`; returns the
 * image reference `oci:DIR:TAG` that unpack, export, squash and skopeo
 * take. Deterministic: the same stack gives the same digests.
 */
export function writeStackImage(dir: string, layers: readonly LayerInput[], tag = "test"): string {
  writeOciLayout(dir, {
    layers: layers.map((layer) => ({
      tar: Buffer.isBuffer(layer) ? layer : writeTar(layer as readonly TarMember[]),
    })),
    tag,
  });
  return `oci:${dir}:${tag}`;
}
