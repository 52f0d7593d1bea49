/**
 * Graceful shutdown on the Kubernetes timeline, under one budget. On the first SIGTERM/SIGINT (or
 * {@link trigger}) the service goes `running → draining`: readiness fails at once (so the load balancer stops
 * sending traffic), a drain delay passes (the in-process `preStop` sleep), then `stopping`: registered drainables
 * (an HTTP listener and its in-flight requests, worker pools, supervisors) drain in reverse order of registration,
 * and the main program is interrupted so its finalizers run in reverse acquisition order; then `stopped`. Past the
 * budget the rest is cut off and the {@link Report} says what; a second signal forces an immediate stop.
 *
 * It answers the Python guide's `GracefulShutdown` class (`loop.add_signal_handler(SIGTERM, ...)`, an
 * `asyncio.Event` that `main` waits on, `asyncio.wait_for(gather(*tasks), timeout)` for the drain), and what
 * uvicorn's `--timeout-graceful-shutdown` and Kubernetes' `terminationGracePeriodSeconds` + `preStop` do together.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Shutdown } from "@async-ops/service"
 *
 * const program = Effect.gen(function*() {
 *   const shutdown = yield* Shutdown.Shutdown
 *   yield* shutdown.register("jobs", Effect.log("jobs drained"))
 *   return yield* Effect.never // the service
 * })
 * // SIGTERM: phases draining → stopping → stopped, "jobs drained", then the program's finalizers
 * const main = Shutdown.run(Effect.scoped(program)).pipe(
 *   Effect.provide(Shutdown.layer({ budget: "30 seconds", drainDelay: "5 seconds" }))
 * )
 * ```
 *
 * @see `SubscriptionRef` (the phase), `Effect.raceAllFirst` (the budget), `Fiber.interrupt` (finalizers)
 * @see https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type * as ServerKit from "@async-ops/http/ServerKit"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import * as internal from "./internal/shutdown.ts"

/**
 * The shutdown phase: `running` until the first signal or trigger, `draining` while readiness fails and the drain
 * delay passes, `stopping` while drainables and finalizers run, `stopped` at the end (clean or not).
 *
 * @category models
 * @since 0.1.0
 */
export type Phase = "running" | "draining" | "stopping" | "stopped"

/**
 * A signal the service can react to.
 *
 * @category models
 * @since 0.1.0
 */
export type Signal = "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGQUIT" | "SIGUSR1" | "SIGUSR2"

/**
 * How a shutdown ended: `running` (not triggered), `in-progress`, `clean` (everything finished within the budget:
 * exit code 0), `failed` (a drainable or the program's finalizers failed: 1), `overrun` (the budget passed and
 * the rest was cut off: 1), `forced` (a second signal: 130), or `completed` (the program ended on its own, no
 * shutdown: 0).
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = "running" | "in-progress" | "clean" | "failed" | "overrun" | "forced" | "completed"

/**
 * The status of one step of the timeline: `pending`, `running`, `done`, `failed`, `cut-off` (running when the
 * budget passed or a second signal came) or `skipped` (never reached).
 *
 * @category models
 * @since 0.1.0
 */
export type StepStatus = "pending" | "running" | "done" | "failed" | "cut-off" | "skipped"

/**
 * One step of the timeline in a {@link Report}.
 *
 * @category models
 * @since 0.1.0
 */
export interface StepReport {
  /** `"drain delay"`, a drainable's name, or `"finalizers"`. */
  readonly name: string
  readonly kind: "delay" | "drain" | "finalizers"
  readonly status: StepStatus
  /** Milliseconds the step ran (by `Clock`; 0 if it never started). */
  readonly durationMs: number
  /** The first line of the failure, for a `failed` step. */
  readonly error?: string
}

/**
 * A phase change, in milliseconds since the shutdown started.
 *
 * @category models
 * @since 0.1.0
 */
export interface PhaseEntry {
  readonly phase: Phase
  readonly atMs: number
}

/**
 * What a shutdown did: its outcome and exit code, what triggered it, when each phase began, each step with its
 * status and duration, and the names of the steps that were cut off or skipped.
 *
 * @category models
 * @since 0.1.0
 */
export interface Report {
  readonly outcome: Outcome
  /** The signal (`"SIGTERM"`) or the reason given to {@link trigger} (default `"trigger"`). */
  readonly reason: string | undefined
  readonly phases: ReadonlyArray<PhaseEntry>
  readonly steps: ReadonlyArray<StepReport>
  /** Steps that were cut off or never reached. Empty after a clean shutdown. */
  readonly cutOff: ReadonlyArray<string>
  /** Milliseconds from the trigger to the end (or to now, while in progress). */
  readonly elapsedMs: number
  /** 0 clean or completed, 1 failed or overrun, 130 forced; `undefined` while running. */
  readonly exitCode: number | undefined
}

/**
 * The counters of a {@link Shutdown} now.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly phase: Phase
  readonly outcome: Outcome
  /** Signals and triggers received. */
  readonly triggers: number
  /** Drainables registered now. */
  readonly drainables: number
}

/**
 * Options of {@link layer} and {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * The whole shutdown's budget, from the first signal to the last finalizer (default 30 seconds, Kubernetes'
   * `terminationGracePeriodSeconds`; a finite duration > 0). Keep it a little under the grace period so the
   * report is written before the kubelet's SIGKILL.
   */
  readonly budget?: Duration.Input | undefined
  /**
   * How long readiness fails before anything stops, so endpoints and load balancers stop routing here (default
   * 5 seconds, the usual `preStop` sleep; a duration >= 0 and shorter than `budget`). Use 0 in development,
   * where nothing routes traffic (a second Ctrl-C also forces the stop).
   */
  readonly drainDelay?: Duration.Input | undefined
  /** The signals that start (and a second time force) the shutdown (default `["SIGTERM", "SIGINT"]`; `[]` for none). */
  readonly signals?: ReadonlyArray<Signal> | undefined
}

/**
 * The shutdown orchestrator: the service behind the {@link Shutdown} key.
 *
 * @category models
 * @since 0.1.0
 */
export interface Shutdown {
  /** The phase now, and its changes (`SubscriptionRef.changes`) for health checks and logs. */
  readonly phase: SubscriptionRef.SubscriptionRef<Phase>
  /**
   * Starts the shutdown as a signal would (`reason` is reported, default `"trigger"`); a second call while it
   * runs forces an immediate stop; after the end it does nothing. Returns at once.
   */
  readonly trigger: (reason?: string) => Effect.Effect<void>
  /**
   * Registers `drain` to run in the `stopping` phase, in reverse order of registration, for as long as the
   * caller's scope is open. A failure is reported (the step is `failed`) and the next drainable still runs.
   */
  readonly register: <A, E, R>(
    name: string,
    drain: Effect.Effect<A, E, R>
  ) => Effect.Effect<void, never, Scope.Scope | R>
  /** The report now (outcome `running` before any trigger). */
  readonly report: Effect.Effect<Report>
  /** Waits for the end of the shutdown and returns its report. */
  readonly awaitDone: Effect.Effect<Report>
  /** Whether a shutdown has started. */
  readonly isShuttingDown: Effect.Effect<boolean>
  /** The counters now. */
  readonly stats: Effect.Effect<Stats>
  /**
   * Runs `program` as the main program: a shutdown interrupts it as its last step (`finalizers`), and the
   * result is the shutdown's report. A program that ends on its own gives outcome `completed`; one that fails
   * on its own fails with its error.
   */
  readonly run: <A, E, R>(program: Effect.Effect<A, E, R>) => Effect.Effect<Report, E, R>
}

/**
 * The service key of the shutdown orchestrator.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Shutdown } from "@async-ops/service"
 *
 * const draining = Effect.flatMap(Shutdown.Shutdown, (s) => s.isShuttingDown)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Shutdown: Context.Service<Shutdown, Shutdown> = internal.Shutdown

/**
 * Makes a shutdown orchestrator for the current scope: its signal handlers (`process.on`) are installed now and
 * removed when the scope closes.
 *
 * **When to use**: when you manage the scope yourself; otherwise {@link layer}.
 *
 * **Gotchas**:
 * - It only reacts to signals and triggers; {@link run} (or `Main.runMain`) ties it to the main program.
 * - Do not combine it with `NodeRuntime.runMain`, which interrupts the main fiber itself on SIGINT/SIGTERM (and
 *   exits 130); use `Main.runMain`.
 * - Bad options fail with `InvalidOptionError` (module `Shutdown.make`): `budget`, `drainDelay`, `signals`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Shutdown } from "@async-ops/service"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const shutdown = yield* Shutdown.make({ signals: [], drainDelay: 0 })
 *   yield* shutdown.trigger()
 *   return (yield* shutdown.awaitDone).outcome // => "clean"
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: Options) => Effect.Effect<Shutdown, InvalidOptionError, Scope.Scope> = internal.make

/**
 * A layer of the {@link Shutdown} service.
 *
 * **When to use**: under the whole application, so every layer and handler can `register` drainables and read
 * the phase. `Main.runMain` provides it for you.
 *
 * **Gotchas**: when a `Health` service is in the layer's context, a readiness check named `"shutdown"` is
 * registered that fails from the `draining` phase on. Provide `Health.layer` below it
 * (`Shutdown.layer().pipe(Layer.provideMerge(Health.layer))`).
 *
 * @example
 * ```ts
 * import { Shutdown } from "@async-ops/service"
 *
 * const Live = Shutdown.layer({ budget: "25 seconds", drainDelay: "5 seconds" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: (options?: Options) => Layer.Layer<Shutdown, InvalidOptionError> = internal.layer

/**
 * Starts the shutdown of the {@link Shutdown} in context, as a signal would; a second call forces it.
 *
 * **When to use**: in tests (instead of real signals), and from an admin endpoint or a fatal error handler.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Shutdown } from "@async-ops/service"
 *
 * const stop = Shutdown.trigger("admin request")
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const trigger = (reason?: string): Effect.Effect<void, never, Shutdown> =>
  Effect.flatMap(Shutdown, (s) => s.trigger(reason))

/**
 * Registers a drainable with the {@link Shutdown} in context for the lifetime of the caller's scope: `drain`
 * runs in the `stopping` phase, after the listener's drainable when registered before it (reverse order).
 *
 * **When to use**: for anything that must finish its work before the program's finalizers run: a worker pool's
 * `drain`, a supervisor's stop, an HTTP server's in-flight requests ({@link layerServer}).
 *
 * **Gotchas**: the drain runs under the shutdown's budget; past it, it is interrupted and reported `cut-off`.
 * A drainable registered after the shutdown started is not run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Shutdown } from "@async-ops/service"
 *
 * const registered = Shutdown.register("emails", Effect.log("flushing the email queue"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const register = <A, E, R>(
  name: string,
  drain: Effect.Effect<A, E, R>
): Effect.Effect<void, never, Shutdown | Scope.Scope | R> => Effect.flatMap(Shutdown, (s) => s.register(name, drain))

/**
 * The phase now of the {@link Shutdown} in context.
 *
 * @example
 * ```ts
 * import { Shutdown } from "@async-ops/service"
 *
 * const phase = Shutdown.phase // Effect<"running" | "draining" | "stopping" | "stopped", never, Shutdown>
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const phase: Effect.Effect<Phase, never, Shutdown> = internal.phase

/**
 * The report now of the {@link Shutdown} in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Shutdown } from "@async-ops/service"
 *
 * const cutOff = Effect.map(Shutdown.report, (r) => r.cutOff)
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const report: Effect.Effect<Report, never, Shutdown> = Effect.flatMap(Shutdown, (s) => s.report)

/**
 * Runs `program` as the main program of the {@link Shutdown} in context and returns the shutdown's report: the
 * program runs until a signal or trigger, and its scope closes (finalizers in reverse acquisition order) in the
 * timeline's last step.
 *
 * **When to use**: at the top of a service when you run it yourself; `Main.runMain` does this and maps the
 * report to the exit code.
 *
 * **Gotchas**: after an `overrun` or a `forced` stop the report comes back at once, while what was cut off (an
 * uninterruptible scope close, the program's finalizers) goes on in the background until it ends; `Main.runMain`
 * exits the process instead. Interrupting `run` itself interrupts the program and waits for its finalizers.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Shutdown } from "@async-ops/service"
 *
 * const main = Shutdown.run(Effect.never).pipe(Effect.provide(Shutdown.layer()))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const run = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<Report, E, R | Shutdown> =>
  Effect.flatMap(Shutdown, (s) => s.run(program))

/**
 * Options of {@link layerServer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface ServerOptions {
  /** The drainable's name in the report (default `"http"`). */
  readonly name?: string | undefined
  /**
   * The server's in-flight tracker (`ServerKit.inFlight()`); when given, the drainable also waits for it to go
   * idle after the listener closed (bounded by the shutdown's budget).
   */
  readonly inFlight?: Pick<ServerKit.InFlight, "drain"> | undefined
}

/**
 * Builds an HTTP server's layer in a scope of its own and registers it with the {@link Shutdown} in context as a
 * drainable (default name `"http"`): in the `stopping` phase its scope is closed, so the listener stops accepting
 * and Effect's server waits for the responses in progress (up to its `gracefulShutdownTimeout`), then the
 * in-flight tracker, if given, is drained. The rest of the program (clients, pools, databases) stays up until the
 * finalizers step, so requests finish with their dependencies alive.
 *
 * **When to use**: around the `HttpRouter.serve(...)` + `NodeHttpServer.layer(...)` layer of every service under a
 * {@link Shutdown}, with {@link middleware} and `ServerKit.inFlight()` around the router.
 *
 * **Gotchas**:
 * - Drainables run in reverse order of registration: provide the things handlers use (worker pools that
 *   register their own drain) *below* this layer, so the server drains first.
 * - The server layer is built with its own scope; layers it shares with the rest of the program are memoized as
 *   usual.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { createServer } from "node:http"
 * import { Shutdown } from "@async-ops/service"
 *
 * const Routes = HttpRouter.add("GET", "/", HttpServerResponse.text("hi"))
 * const Server = HttpRouter.serve(Routes).pipe(
 *   Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 8080 }))
 * )
 * const Live = Shutdown.layerServer(Server).pipe(Layer.provide(Shutdown.layer()))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerServer: <A, E, R>(
  server: Layer.Layer<A, E, R>,
  options?: ServerOptions
) => Layer.Layer<A, E, Exclude<R, Scope.Scope> | Shutdown> = internal.layerServer

/**
 * Makes a server middleware that adds `Connection: close` to every response once the shutdown has started, so
 * clients drop their keep-alive connections during the drain delay instead of holding the listener's close open
 * (or sending a request on a socket the server is closing).
 *
 * **When to use**: around the router of every server under a {@link Shutdown}
 * (`HttpRouter.middleware(mw, { global: true })`) or in `HttpRouter.serve`'s `middleware`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { Shutdown } from "@async-ops/service"
 *
 * const CloseOnShutdown = Layer.unwrap(
 *   Effect.map(Shutdown.middleware, (close) => HttpRouter.middleware(close, { global: true }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const middleware: Effect.Effect<ServerKit.Middleware, never, Shutdown> = internal.middleware
