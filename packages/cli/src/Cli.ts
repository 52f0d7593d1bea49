/**
 * The `async-ops` command: `fetch` (a resilient bulk fetcher), `demo` (the toolkit at work against a local fault
 * server), `serve` (that fault server as a service) and `scan` (calls that block the event loop), with one way of
 * ending for all of them: what argparse/click give a Python tool (usage errors, exit code 2) without the stack
 * traces an asyncio program prints when a coroutine fails.
 *
 * Exit codes: **0** success; **1** an unexpected failure (one line on stderr); **2** bad input: an unknown flag, a
 * missing file, an unreadable line, a value out of range, a port in use (one line on stderr naming the problem, no
 * help dump, no stack trace); **130** / **143** `fetch` or `demo` stopped by SIGINT / SIGTERM after its graceful
 * stop (records flushed, summary printed). `serve` treats SIGTERM/SIGINT as its normal end: 0 after a clean
 * shutdown (1 if its budget was overrun, 130 after a second signal). `scan` exits 1 when it finds something.
 *
 * @since 0.1.0
 */
import { Command } from "effect/cli"
import type * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import * as internal from "./internal/cli.ts"
import * as Demo from "./internal/command/demo.ts"
import * as Fetch from "./internal/command/fetch.ts"
import * as Scan from "./internal/command/scan.ts"
import * as Serve from "./internal/command/serve.ts"
import * as Top from "./internal/command/top.ts"
import * as usage from "./internal/usage.ts"

/**
 * The version `--version` prints: the package's own, read from its `package.json` (one directory above both `src/`
 * and the published `dist/`) when the module loads.
 *
 * @category constants
 * @since 0.1.0
 */
export const version: string =
  (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version

/**
 * Bad input found by a command after parsing (a value out of range, a missing or unreadable file, a port in use):
 * {@link run} prints `async-ops: <reason>` on stderr and returns 2.
 *
 * @category errors
 * @since 0.1.0
 */
export const UsageError = usage.UsageError

/**
 * @category errors
 * @since 0.1.0
 */
export type UsageError = usage.UsageError

/**
 * A command stopped by SIGINT or SIGTERM after finishing its graceful stop: {@link run} prints the reason (what
 * was done) and returns its `exitCode`, 130 or 143.
 *
 * @category errors
 * @since 0.1.0
 */
export const StoppedError = usage.StoppedError

/**
 * @category errors
 * @since 0.1.0
 */
export type StoppedError = usage.StoppedError

/**
 * The root command with its subcommands `fetch`, `demo`, `serve` and `scan`.
 *
 * **When to use**: to embed the whole tool, or to print its help (`Command.runWith(Cli.command, ...)(["--help"])`).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Command } from "effect/cli"
 * import { Cli } from "@async-ops/cli"
 *
 * const help = Command.runWith(Cli.command, { version: Cli.version })(["--help"]).pipe(
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category commands
 * @since 0.1.0
 */
export const command = Command.make("async-ops").pipe(
  Command.withDescription("Python's asyncio playbook, on Effect: bulk fetch, demo, fault server, blocking-call scan"),
  Command.withSubcommands([Fetch.command, Demo.command, Serve.command, Scan.command, Top.command])
)

/**
 * Runs the tool on `args` (without `node` and the script) and returns the process exit code; it never fails.
 * Bad input prints one line on stderr and gives 2; see the module's list of codes.
 *
 * **When to use**: in `bin.ts`, or to run the tool in-process in a test.
 *
 * **Gotchas**: `fetch` and `demo` install SIGINT/SIGTERM handlers while they run (a second signal exits at once);
 * `serve` runs under the service package's `Shutdown`.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Cli } from "@async-ops/cli"
 *
 * const code = Cli.run(["fetch", "--concurrency=-1", "urls.txt"]).pipe(Effect.provide(NodeServices.layer))
 * // Effect<number>: 2, after "async-ops: --concurrency must be an integer >= 1, got -1" on stderr
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const run = (
  args: ReadonlyArray<string>
): Effect.Effect<number, never, Command.Environment> => internal.run(command, args, version)
