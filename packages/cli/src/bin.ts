#!/usr/bin/env node
/**
 * The `async-ops` executable: runs {@link Cli.run} on the process arguments and exits with its code once stdout and
 * stderr are flushed. It installs no signal handlers of its own: `fetch` and `demo` install theirs while they run,
 * and `serve` runs under the service package's `Shutdown`. It has no exports and is not part of the barrel.
 *
 * @since 0.1.0
 */
import { NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"

const flushAndExit = (code: number): void => {
  process.stdout.write("", () => {
    process.stderr.write("", () => process.exit(code))
  })
}

const runMain = Runtime.makeRunMain(({ fiber }) => {
  fiber.addObserver((exit) => flushAndExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 1))
})

// only as the entry point: importing this module (an export-surface check, a bundler) runs nothing
if (import.meta.main) {
  runMain(Cli.run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer)), { disableErrorReporting: true })
}
