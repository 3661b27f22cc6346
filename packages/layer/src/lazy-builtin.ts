import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * A Node builtin, loaded where it is first used rather than when strata
 * loads: a short command (a store's second image) never needs
 * child_process, worker_threads, http, https or tls, which cost it a few
 * milliseconds each to load.
 */
export function builtin<T>(name: `node:${string}`): T {
  return require(name) as T;
}
