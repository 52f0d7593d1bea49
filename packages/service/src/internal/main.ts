/**
 * `Main.run` / `Main.runMain`: the Shutdown orchestrator, logging and Node's process wiring around a program.
 *
 * @internal
 */
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Runtime from "effect/Runtime"
import type { LogFormat, RunOptions } from "../Main.ts"
import type { Report } from "../Shutdown.ts"
import * as shutdown from "./shutdown.ts"

const LEVELS: ReadonlyArray<string> = ["All", "Fatal", "Error", "Warn", "Info", "Debug", "Trace", "None"]
const FORMATS: ReadonlyArray<string> = ["default", "pretty", "json", "logfmt", "structured"]

const loggerLayer = (format: LogFormat): Layer.Layer<never> => {
  switch (format) {
    case "pretty":
      return Logger.layer([Logger.consolePretty()])
    case "json":
      return Logger.layer([Logger.consoleJson])
    case "logfmt":
      return Logger.layer([Logger.consoleLogFmt])
    case "structured":
      return Logger.layer([Logger.consoleStructured])
    default:
      return Layer.empty
  }
}

/** @internal */
export const run = <A, E, R, ROut = never, LE = never>(
  program: Effect.Effect<A, E, R>,
  options?: RunOptions<ROut, LE>
): Effect.Effect<Report, E | LE | InvalidOptionError, Exclude<R, shutdown.Shutdown | ROut>> =>
  Effect.suspend(() => {
    const format = options?.logFormat ?? "default"
    if (!FORMATS.includes(format)) {
      return Effect.fail(
        new InvalidOptionError({ module: "Main.run", option: "logFormat", expected: FORMATS.join(", "), value: format })
      )
    }
    const level = options?.logLevel
    if (level !== undefined && !LEVELS.includes(level)) {
      return Effect.fail(
        new InvalidOptionError({ module: "Main.run", option: "logLevel", expected: LEVELS.join(", "), value: level })
      )
    }
    // fresh: each run gets its own services, never ones memoized by an earlier run in the same process
    const services = Layer.fresh(
      shutdown.layer(options?.shutdown).pipe(
        Layer.provideMerge((options?.layer ?? Layer.empty) as Layer.Layer<ROut, LE>)
      )
    )
    const main = Effect.flatMap(shutdown.Shutdown, (s) => s.run(program)).pipe(
      Effect.provide(services)
    ) as Effect.Effect<Report, E | LE | InvalidOptionError, Exclude<R, shutdown.Shutdown | ROut>>
    const logged = Effect.provide(main, loggerLayer(format))
    return level === undefined ? logged : Effect.provideService(logged, References.MinimumLogLevel, level)
  })

/** @internal */
export const exitCode = <E>(exit: Exit.Exit<Report, E>): number => {
  if (Exit.isSuccess(exit)) return exit.value.exitCode ?? 0
  let code = 1
  Runtime.defaultTeardown(exit, (c) => {
    code = c
  })
  return code
}

const runMainNode = Runtime.makeRunMain(({ fiber, teardown }) => {
  fiber.addObserver((exit) => {
    teardown(exit, (code) => {
      // After a shutdown the process ends now, whatever is still open (a cut-off finalizer, an idle socket);
      // a program that ended on its own with 0 lets Node exit naturally (stdout flushed), as NodeRuntime does.
      const shutDown = Exit.isSuccess(exit) && (exit.value as Report).outcome !== "completed"
      if (shutDown || code !== 0) process.exit(code)
    })
  })
})

/** @internal */
export const runMain = <A, E, ROut = never, LE = never>(
  program: Effect.Effect<A, E, shutdown.Shutdown | ROut>,
  options?: RunOptions<ROut, LE>
): void => {
  runMainNode(run(program, options) as Effect.Effect<Report, unknown>, {
    disableErrorReporting: options?.disableErrorReporting === true,
    teardown: (exit, onExit) => onExit(exitCode(exit as Exit.Exit<Report, unknown>))
  })
}
