import { StrataError } from "@strata-oci/errors";

/** The image's runtime settings cannot become a runtime config (unknown user, bad passwd, ...). */
export class BundleError extends StrataError {}
