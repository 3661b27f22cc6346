import { afterEach } from "vitest";
import { tempDir } from "./layers.js";

/** A maker of temporary directories that are all removed after each test. */
export function perTestDirs(): () => string {
  const made: Array<() => void> = [];
  afterEach(() => {
    for (const remove of made.splice(0)) remove();
  });
  return () => {
    const dir = tempDir();
    made.push(dir.remove);
    return dir.path;
  };
}
