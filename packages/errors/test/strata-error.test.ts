import { describe, expect, it } from "vitest";
import { AbortedError, ImageError, StrataError, withErrorContext } from "@strata-oci/errors";

describe("StrataError", () => {
  it(
    "reads as 'image: layer: entry: problem', keeps the detail, hint and cause apart, and " +
      "takes context from outer callers",
    () => {
      const cause = new Error("ENOENT");
      const error = new ImageError("STRATA_BAD_IMAGE", "no manifest", {
        hint: "copy it again",
        cause,
        context: { entry: "etc/passwd" },
      });
      withErrorContext(error, {
        layer: "sha256:ab",
        image: "oci:x:t",
        entry: "ignored: inner wins",
      });
      expect(error.message).toBe("image oci:x:t: layer sha256:ab: etc/passwd: no manifest");
      expect([error.code, error.detail, error.hint, error.cause, error.name]).toEqual([
        "STRATA_BAD_IMAGE",
        "no manifest",
        "copy it again",
        cause,
        "ImageError",
      ]);
      expect(error).toBeInstanceOf(StrataError);
    },
  );

  it("shortens kilobyte names in messages; leaves anything but a StrataError alone", () => {
    const long = `${"d/".repeat(500)}f`;
    const error = new StrataError("STRATA_FS_ERROR", "failed", { context: { entry: long } });
    expect(error.message.length).toBeLessThan(300);
    expect(error.context.entry).toBe(long);
    const plain = new Error("x");
    expect(withErrorContext(plain, { image: "y" })).toBe(plain);
    expect(new AbortedError().code).toBe("STRATA_ABORTED");
  });
});
