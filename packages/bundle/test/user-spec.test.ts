import { describe, expect, it } from "vitest";
import { parseGroup, parsePasswd, resolveUser, type AccountFiles } from "@strata-oci/bundle";

const files: AccountFiles = {
  passwd: parsePasswd(
    [
      "root:x:0:0:root:/root:/bin/sh",
      "app:x:1000:1000:App:/home/app:/bin/sh",
      "# a comment",
      "broken line without fields",
      "badid:x:notanumber:1:::/bin/sh",
      "svc:x:2000:2001::/srv:/bin/false",
    ].join("\n"),
  ),
  group: parseGroup(
    [
      "root:x:0:",
      "app:x:1000:",
      "wheel:x:10:app,root",
      "audio:x:29:app",
      "svcgrp:x:2001:",
      "broken",
    ].join("\n"),
  ),
};

describe("resolveUser: every form the image-spec allows", () => {
  const cases: Array<
    [string, { uid: number; gid: number; additionalGids: number[]; home: string | undefined }]
  > = [
    ["", { uid: 0, gid: 0, additionalGids: [10], home: "/root" }],
    ["app", { uid: 1000, gid: 1000, additionalGids: [10, 29], home: "/home/app" }],
    ["1000", { uid: 1000, gid: 1000, additionalGids: [10, 29], home: "/home/app" }],
    ["app:wheel", { uid: 1000, gid: 10, additionalGids: [], home: "/home/app" }],
    ["1000:29", { uid: 1000, gid: 29, additionalGids: [], home: "/home/app" }],
    ["1000:audio", { uid: 1000, gid: 29, additionalGids: [], home: "/home/app" }],
    ["app:5000", { uid: 1000, gid: 5000, additionalGids: [], home: "/home/app" }],
    ["4242", { uid: 4242, gid: 0, additionalGids: [], home: undefined }],
    ["4242:4343", { uid: 4242, gid: 4343, additionalGids: [], home: undefined }],
    ["svc", { uid: 2000, gid: 2001, additionalGids: [], home: "/srv" }],
  ];
  for (const [spec, expected] of cases) {
    it(`User ${JSON.stringify(spec)}`, () => {
      expect(resolveUser(spec, files)).toEqual(expected);
    });
  }

  it("refuses an unknown user or group", () => {
    expect(() => resolveUser("nobody", files)).toThrow(
      expect.objectContaining({ code: "STRATA_UNKNOWN_USER" }),
    );
    expect(() => resolveUser("app:nogroup", files)).toThrow(
      expect.objectContaining({ code: "STRATA_UNKNOWN_USER" }),
    );
  });

  it("skips malformed passwd lines: a user only on one is unknown", () => {
    expect(() => resolveUser("badid", files)).toThrow(
      expect.objectContaining({ code: "STRATA_UNKNOWN_USER" }),
    );
  });

  it("a named user needs /etc/passwd; a numeric one does not", () => {
    const none: AccountFiles = { passwd: undefined, group: undefined };
    expect(() => resolveUser("app", none)).toThrow(
      expect.objectContaining({ code: "STRATA_UNKNOWN_USER" }),
    );
    expect(resolveUser("1000:1000", none)).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [],
      home: undefined,
    });
  });

  it("refuses a group without a user", () => {
    expect(() => resolveUser(":wheel", files)).toThrow(
      expect.objectContaining({ code: "STRATA_BAD_RUNTIME_CONFIG" }),
    );
  });
});
