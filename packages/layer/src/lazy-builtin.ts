import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** The builtins strata loads where first used. */
interface LazyBuiltins {
  "node:child_process": typeof import("node:child_process");
  "node:http": typeof import("node:http");
  "node:https": typeof import("node:https");
  "node:tls": typeof import("node:tls");
  "node:worker_threads": typeof import("node:worker_threads");
}

/**
 * A Node builtin, loaded where it is first used rather than when strata
 * loads: a short command (a store's second image) never needs
 * child_process, worker_threads, http, https or tls, which cost it a few
 * milliseconds each to load.
 */
export function builtin<N extends keyof LazyBuiltins>(name: N): LazyBuiltins[N] {
  return require(name) as LazyBuiltins[N];
}
