/**
 * The `scan` command's flags and description, with its implementation (`../scan.ts`) loaded when the command runs:
 * `async-ops --help`, `--version` and the other commands do not load it.
 *
 * @internal
 */
import { Argument, Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"

// `../scan.ts` takes its error classes from `../../Scan.ts`, which reads `../scan.ts`'s exports when it loads:
// loading the public module first keeps that cycle in the order it was written for
const load = Effect.promise(() => import("../../Scan.ts").then(() => import("../scan.ts")))

/** @internal */
export const command = Command.make("scan", {
  paths: Argument.String("paths").pipe(
    Argument.withDescription("Files or directories to scan (default: the current directory)"),
    Argument.variadic()
  ),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false))
}, ({ json, paths }) => Effect.flatMap(load, (internal) => internal.runCommand(paths, json))).pipe(
  Command.withDescription(
    "Find calls that block the event loop (fs/child_process/crypto/zlib *Sync, Atomics.wait, busy-waits) " +
      "inside Effect and async code, and dropped fibers; exit 1 when anything is found"
  )
)
