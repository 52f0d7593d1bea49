#!/usr/bin/env node
/**
 * The `async-ops` executable: runs {@link Cli.run} on the process arguments and exits with its code once stdout and
 * stderr are flushed. It installs no signal handlers of its own: `fetch` and `demo` install theirs while they run,
 * and `serve` runs under the service package's `Shutdown`. It has no exports and is not part of the barrel.
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"

// A closed or failing stdout/stderr (EPIPE from `| head`, ENOSPC from `> /dev/full`) is reported to the writer's
// callback, where the commands handle it; without a listener Node would also throw it as an uncaught exception.
const ignoreStreamError = (): void => {}
process.stdout.on("error", ignoreStreamError)
process.stderr.on("error", ignoreStreamError)

const flush = (stream: NodeJS.WriteStream, then: () => void): void => {
  if (stream.destroyed || stream.writableEnded) return then()
  stream.write("", () => then())
}

const flushAndExit = (code: number): void => {
  flush(process.stdout, () => flush(process.stderr, () => process.exit(code)))
}

const runMain = Runtime.makeRunMain(({ fiber }) => {
  fiber.addObserver((exit) => flushAndExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 1))
})

// only as the entry point: importing this module (an export-surface check, a bundler) runs nothing
if (import.meta.main) {
  runMain(Cli.run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer)), { disableErrorReporting: true })
}
