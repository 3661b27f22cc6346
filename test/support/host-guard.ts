// Runs around every test file: no test may change the host outside its own
// temporary directories. /dev/null is the canary (once found replaced by a
// regular file after a session's runs, culprit unknown): each file checks it
// after its tests, so that the file that breaks it fails, named.
import { lstatSync } from "node:fs";
import { afterAll, expect } from "vitest";

function devNull(): string {
  const stats = lstatSync("/dev/null", { throwIfNoEntry: false });
  return stats === undefined
    ? "missing"
    : stats.isCharacterDevice() && stats.rdev === 259
      ? "ok"
      : `mode ${stats.mode.toString(8)} rdev ${stats.rdev}`;
}

const before = devNull();
afterAll(() => {
  if (before === "ok") expect(devNull(), "/dev/null changed by this test file").toBe("ok");
});
