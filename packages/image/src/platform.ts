import { ImageError } from "@strata-oci/layer";

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
  if (parts.length < 2 || parts.length > 3 || os === undefined || arch === undefined || os === "" || arch === "" || variant === "") {
    throw new ImageError("STRATA_BAD_REFERENCE", `bad platform ${JSON.stringify(text)}`, { hint: "write it as os/arch[/variant], e.g. linux/arm64/v8" });
  }
  return variant === undefined ? { os, architecture: normaliseArchitecture(arch) } : { os, architecture: normaliseArchitecture(arch), variant };
}

/** The platform of this machine. */
export function hostPlatform(): Platform {
  const architecture = normaliseArchitecture(process.arch === "ppc64" ? "ppc64le" : process.arch);
  return { os: process.platform, architecture };
}

/** `os/arch[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter((p) => p !== undefined).join("/");
}

/**
 * Whether a manifest's platform serves the wanted one. A wanted variant must
 * match; with none wanted any variant does (arm64 images are mostly v8).
 */
export function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  if (candidate === undefined) return false;
  if (candidate.os !== wanted.os || normaliseArchitecture(candidate.architecture) !== wanted.architecture) return false;
  return wanted.variant === undefined || candidate.variant === wanted.variant;
}
