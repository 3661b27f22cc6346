import { ImageError } from "@strata-oci/errors";

/** An image platform (OCI image-index `platform`). */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  /** `os.version`: the OS release the image needs (Windows builds). */
  readonly osVersion?: string;
  /** `os.features`: OS features the image needs (`win32k`). */
  readonly osFeatures?: readonly string[];
  /** `features`: reserved by the spec; shown when set. */
  readonly features?: readonly string[];
}

const ARCH_ALIASES: Readonly<Record<string, string>> = {
  aarch64: "arm64",
  x86_64: "amd64",
  x64: "amd64",
  ia32: "386",
  i386: "386",
  armhf: "arm",
  armel: "arm",
};

/** Canonical OCI architecture name (`aarch64` -> `arm64`, `x86_64` -> `amd64`). */
export function normaliseArchitecture(arch: string): string {
  return ARCH_ALIASES[arch] ?? arch;
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  const [os, arch, variant] = parts;
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    os === undefined ||
    arch === undefined ||
    os === "" ||
    arch === "" ||
    variant === ""
  ) {
    throw new ImageError("STRATA_BAD_REFERENCE", `bad platform ${JSON.stringify(text)}`, {
      hint: "write it as os/arch[/variant], e.g. linux/arm64/v8",
    });
  }
  return variant === undefined
    ? { os, architecture: normaliseArchitecture(arch) }
    : { os, architecture: normaliseArchitecture(arch), variant };
}

/** The platform of this machine. */
export function hostPlatform(): Platform {
  const architecture = normaliseArchitecture(process.arch === "ppc64" ? "ppc64le" : process.arch);
  return { os: process.platform, architecture };
}

/** `os/arch[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant]
    .filter((p) => p !== undefined)
    .join("/");
}

/**
 * A variant as containerd, go-containerregistry and skopeo compare it:
 * arm64's v8 is arm64 itself (`linux/arm64/v8` and `linux/arm64` are one
 * platform, and configs mostly leave it out), 32-bit arm without one is v7,
 * a bare number is `v` and the number, amd64's v1 is amd64 itself.
 */
export function normaliseVariant(
  architecture: string,
  variant: string | undefined,
): string | undefined {
  const arch = normaliseArchitecture(architecture);
  const v =
    variant === undefined || variant === ""
      ? undefined
      : /^\d+$/.test(variant)
        ? `v${variant}`
        : variant;
  if (arch === "arm64") return v === "v8" || v === "v8.0" ? undefined : v;
  if (arch === "arm") return v ?? "v7";
  if (arch === "amd64") return v === "v1" ? undefined : v;
  return v;
}

/**
 * Whether a manifest's (or a config's) platform serves the wanted one, both
 * normalised (normaliseArchitecture, normaliseVariant). A wanted variant
 * must match; with none wanted any variant does.
 */
export function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  if (candidate === undefined) return false;
  if (
    candidate.os !== wanted.os ||
    normaliseArchitecture(candidate.architecture) !== normaliseArchitecture(wanted.architecture)
  )
    return false;
  if (wanted.variant === undefined) return true;
  return (
    normaliseVariant(candidate.architecture, candidate.variant) ===
    normaliseVariant(wanted.architecture, wanted.variant)
  );
}
