import { defineConfig } from "vitest/config";

// Tests import package sources through the "source" export condition, never dist.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    pool: "forks",
    setupFiles: ["test/support/host-guard.ts"],
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});
