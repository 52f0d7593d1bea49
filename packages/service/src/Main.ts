/**
 * The entry point of a service: runs the main program under a {@link Shutdown.Shutdown} orchestrator (signal
 * handlers, drain delay, drainables, finalizers, all under one budget), with the logger you choose, and exits the
 * process with the shutdown's outcome: **0** after a clean drain (also on SIGTERM/SIGINT, where
 * `NodeRuntime.runMain` exits 130), **1** when the budget was overrun, a drain failed or the program failed,
 * **130** when a second signal forced the stop.
 *
 * It answers Python's `asyncio.run(main())` plus the `loop.add_signal_handler` boilerplate every asyncio service
 * writes, and uvicorn's exit codes.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Main } from "@async-ops/service"
 *
 * declare const AppLive: Layer.Layer<never>
 * Main.runMain(Layer.launch(AppLive), { shutdown: { budget: "25 seconds" }, logFormat: "logfmt" })
 * ```
 *
 * @see `Runtime.makeRunMain` in `effect` (what it is built on), `NodeRuntime.runMain` in `@effect/platform-node`
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as LogLevel from "effect/LogLevel"
import * as internal from "./internal/main.ts"
import type * as Shutdown from "./Shutdown.ts"

/**
 * The console logger `Main` installs: `"default"` keeps Effect's default logger; the others are Effect's
 * `Logger.consolePretty()`, `consoleJson`, `consoleLogFmt` and `consoleStructured`.
 *
 * @category models
 * @since 0.1.0
 */
export type LogFormat = "default" | "pretty" | "json" | "logfmt" | "structured"

/**
 * Options of {@link run} and {@link runMain}.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunOptions<ROut = never, LE = never> {
  /** The shutdown's budget, drain delay and signals (see `Shutdown.Options`). */
  readonly shutdown?: Shutdown.Options | undefined
  /**
   * Services built before the shutdown orchestrator and given to the program, e.g. `Health.layer`: the
   * orchestrator registers its readiness check in a `Health` found here.
   */
  readonly layer?: Layer.Layer<ROut, LE> | undefined
  /** The log format (default `"default"`). */
  readonly logFormat?: LogFormat | undefined
  /** The minimum log level (default: Effect's, `"Info"`). */
  readonly logLevel?: LogLevel.LogLevel | undefined
  /** Do not log the program's failure (default `false`). Only for {@link runMain}. */
  readonly disableErrorReporting?: boolean | undefined
}

/**
 * Runs `program` under a fresh {@link Shutdown.Shutdown} (and the services of `options.layer`) with the chosen
 * logger, and returns the shutdown's report. The program runs until it ends or a signal/trigger shuts it down.
 *
 * **When to use**: to test a service's whole lifecycle in-process (with `signals: []` and `Shutdown.trigger`),
 * or to embed it; {@link runMain} is this plus the process's exit code.
 *
 * **Gotchas**: bad options fail with `InvalidOptionError` (modules `Main.run`, `Shutdown.make`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Main, Shutdown } from "@async-ops/service"
 *
 * const program = Effect.andThen(Shutdown.trigger("done"), Effect.never)
 * const report = Main.run(program, { shutdown: { signals: [], drainDelay: 0 } })
 * // Effect<Report>: outcome "clean", exitCode 0
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const run: <A, E, R, ROut = never, LE = never>(
  program: Effect.Effect<A, E, R>,
  options?: RunOptions<ROut, LE>
) => Effect.Effect<Shutdown.Report, E | LE | InvalidOptionError, Exclude<R, Shutdown.Shutdown | ROut>> = internal.run

/**
 * Runs `program` as the process's main program ({@link run}) and exits with the shutdown's outcome: 0 after a
 * clean drain or when the program ends on its own, 1 after a budget overrun, a failed drain or a failure (logged),
 * 130 when a second signal forced the stop. It keeps Node alive while the program runs.
 *
 * **When to use**: as the last line of a service's entry file, instead of `NodeRuntime.runMain`.
 *
 * **Gotchas**:
 * - After a shutdown it calls `process.exit`, so nothing left open (a cut-off finalizer, a client's idle
 *   keep-alive socket) can hold the process past the budget.
 * - Spawn it with `node` itself in tests and containers (`process.execPath`, `exec node` in the entrypoint):
 *   the `pnpm`/`npm` shims and `sh -c` do not forward signals.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Main } from "@async-ops/service"
 *
 * declare const AppLive: Layer.Layer<never>
 * if (import.meta.main) Main.runMain(Layer.launch(AppLive), { logFormat: "json" })
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const runMain: <A, E, ROut = never, LE = never>(
  program: Effect.Effect<A, E, Shutdown.Shutdown | ROut>,
  options?: RunOptions<ROut, LE>
) => void = internal.runMain

/**
 * The process exit code for the end of {@link run}: the report's `exitCode`, or for a failure Effect's
 * (`Runtime.defaultTeardown`: 130 interrupted, the error's `[Runtime.errorExitCode]`, else 1).
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { Main } from "@async-ops/service"
 *
 * Main.exitCode(Exit.fail("boom")) // => 1
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const exitCode: <E>(exit: Exit.Exit<Shutdown.Report, E>) => number = internal.exitCode
