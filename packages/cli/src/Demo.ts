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
 * what was done and exits with 130 (143). When the process that started it goes away (a SIGTERM to `npx` in
 * `npx pnpm start` reaches neither pnpm nor the demo), it stops the same way and exits with 129. The summary's
 * helpers (percentiles, breaker openings, the text layout) are internal: the command is the interface.
 *
 * @since 0.1.0
 */
import { command as commandDefinition } from "./internal/command/demo.ts"

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
