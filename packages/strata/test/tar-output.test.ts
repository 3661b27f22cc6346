// writeTarOutput, the -o FILE of export and diff: written synchronously chunk by chunk, it must
// still let the event loop turn, or SIGINT (and any timer) waits for the whole tar. diff's walk
// never waits on anything, so only the writer can give those turns.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "@strata-oci/testing";
import { writeTarOutput } from "../src/cli/output.js";

const work = tempDir("strata-tar-output-");
afterAll(() => work.remove());

describe("writeTarOutput to a FILE", () => {
  it("a source that never waits can still be stopped by a timer; no file is left", async () => {
    const controller = new AbortController();
    let chunks = 0;
    const chunk = Buffer.alloc(64 << 10);
    async function* busy(): AsyncGenerator<Buffer> {
      for (; chunks < 4000; chunks++) {
        if (controller.signal.aborted) throw new Error("stopped");
        if (chunks === 0) setTimeout(() => controller.abort(), 0);
        for (const until = performance.now() + 1; performance.now() < until;);
        yield chunk;
      }
    }
    const file = join(work.path, "out.tar");
    await expect(writeTarOutput(file, busy())).rejects.toThrow("stopped");
    expect(chunks).toBeLessThan(200);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(work.path)).toEqual([]);
  });
});
