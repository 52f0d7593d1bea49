/**
 * `async-ops demo` (what `pnpm start` runs): the whole toolkit at work in a few seconds. It starts a
 * `FaultServer` on several loopback addresses (`127.0.0.1`, `127.0.0.2`, ... acting as hosts: one slow, one flaky,
 * the others with realistic latency and a sprinkling of 5xx, 429 with `Retry-After` and connection resets), fetches a
 * few thousand URLs through the resilient client (caps per host, attempt timeouts, retries, a deadline per URL, a
 * circuit breaker per host) with `FetchAll.stream`, shows a live progress bar on a terminal (a few plain lines
 * otherwise), and prints a summary: outcomes by status and error kind, retries, 429 waits, breaker openings,
 * latency percentiles, throughput, and the peak concurrency each host saw against its cap. Every number in it is
 * measured in the run.
 *
 * It is the seed's `fetch_with_limit` + `retry_with_backoff` + `CircuitBreaker` patterns against a scripted
 * server, the way a Python team would show aiohttp + tenacity + pybreaker working against toxiproxy.
 *
 * Ctrl-C (or SIGTERM) stops starting requests, lets the ones in flight finish (at most 2 s), prints the summary of
 * what was done and exits with 130 (143).
 *
 * @since 0.1.0
 */
import { command as commandDefinition } from "./internal/command/demo.ts"
import * as internal from "./internal/demo.ts"

/**
 * Nearest-rank percentiles of a set of durations: `p50`, `p95`, `p99` and `max` (zeros for none).
 *
 * @category models
 * @since 0.1.0
 */
export type Percentiles = internal.Percentiles

/**
 * Nearest-rank percentiles: the smallest value with at least p % of the values at or below it.
 *
 * @example
 * ```ts
 * import { Demo } from "@async-ops/cli"
 *
 * Demo.percentiles([5, 1, 4, 2, 3]) // { p50: 3, p95: 5, p99: 5, max: 5 }
 * ```
 *
 * @category statistics
 * @since 0.1.0
 */
export const percentiles: (values: ReadonlyArray<number>) => Percentiles = internal.percentiles

/**
 * Counts how many times circuits opened, from the calls they failed fast: each `CircuitOpenError` carries the
 * time left open, so `at + retryAfterMs - openDurationMs` is when its circuit opened; per host, opening times closer
 * than a quarter of `openDurationMs` are the same opening.
 *
 * **Gotchas**: an opening that rejected no call is not seen (the client does not report state changes).
 *
 * @example
 * ```ts
 * import { Demo } from "@async-ops/cli"
 *
 * Demo.countOpenings([
 *   { host: "a", at: 1_000, retryAfterMs: 900 },  // opened at 900
 *   { host: "a", at: 1_050, retryAfterMs: 850 },  // the same opening
 *   { host: "a", at: 3_000, retryAfterMs: 1_000 } // opened again at 3_000
 * ], 1_000) // 2
 * ```
 *
 * @category statistics
 * @since 0.1.0
 */
export const countOpenings: (
  rejections: ReadonlyArray<{ readonly host: string; readonly at: number; readonly retryAfterMs: number }>,
  openDurationMs: number
) => number = internal.countOpenings

/**
 * One host's line in the summary: its `address:port`, its role in the demo (`normal`, `flaky`, `slow`), the
 * requests the server received on it, and the peak concurrency it saw against the client's cap per host.
 *
 * @category models
 * @since 0.1.0
 */
export type HostLine = internal.HostLine

/**
 * What a demo run measured. `outcomes` are `[label, count]` pairs, most frequent first (`"200 ok"`,
 * `"StatusError 503"`, `"CircuitOpenError"`, `"RequestTimeoutError (headers)"`...); `done + notRun` is `urls`.
 *
 * @category models
 * @since 0.1.0
 */
export type Summary = internal.Summary

/**
 * Renders the summary as printed at the end of the demo (the `total` line is the number of URLs).
 *
 * @example
 * ```ts
 * import { Demo } from "@async-ops/cli"
 *
 * const text = Demo.formatSummary({
 *   urls: 2, hosts: 1, done: 2, notRun: 0, stoppedBy: undefined, elapsedMs: 1000,
 *   outcomes: [["200 ok", 2]], ok: 2, failed: 0, attempts: 2, retries: 0, rateLimited: 0, breakerOpenings: 0,
 *   latency: { p50: 1, p95: 2, p99: 2, max: 2 },
 *   perHost: [{ host: "127.0.0.1:8080", role: "normal", requests: 2, peak: 1, cap: 4 }]
 * })
 * text.split("\n")[0] // "async-ops demo: 2 URLs over 1 hosts in 1.00 s"
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const formatSummary: (summary: Summary) => string = internal.formatSummary

/**
 * The `demo` command. Flags: `--urls N` (default 3000), `--hosts N` (loopback addresses, 1-254, default 4; with 2
 * or more the last is slow, with 3 or more the second is flaky), `--concurrency N` (requests in flight, default
 * 128), `--per-host N` (connections per host, default 16), `--faults X` (scales the fault mix, 0 = none, default
 * 1), `--latency MS` (median latency of a normal host, default 10), `--timeout D` (per attempt, default `1s`),
 * `--deadline D` (per URL, retries included, default `5s`), `--retries N` (default 3), `--seed N` (default 1).
 *
 * **When to use**: `pnpm start`, or to see what the resilience settings do to a workload before tuning a real one.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Command } from "effect/cli"
 * import { Demo } from "@async-ops/cli"
 *
 * const program = Command.runWith(Demo.command, { version: "0.1.0" })(["--urls", "300"]).pipe(
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category commands
 * @since 0.1.0
 */
export const command: typeof commandDefinition = commandDefinition
