/**
 * A supervisor for named, long-running background tasks: one-for-one restarts (like an Erlang/OTP supervisor) on
 * an Effect `Schedule`, a cap on restarts in a time window past which the task is marked `failed`, `stop` with a
 * timeout, and a listing with state, restart count, last error and start time. It answers the seed's
 * `BackgroundTaskManager` (a dict of `asyncio.create_task` handles, a `while True: try/except` restart loop and
 * `task.cancel()` on shutdown) without its failure modes: no task is forgotten, restarts back off, a crash loop
 * ends in a visible `failed` state, and closing the supervisor's scope stops everything.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Supervisor } from "@async-ops/service"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sup = yield* Supervisor.make({ name: "workers" })
 *   yield* sup.start("consumer", Effect.never, {
 *     restart: Schedule.exponential("500 millis"),
 *     maxRestarts: { count: 3, within: "1 minute" }
 *   })
 *   return yield* sup.list // => [{ name: "consumer", state: "running", restarts: 0, ... }]
 * }))
 * ```
 *
 * @see `FiberMap` in `effect` (the fibers live in one, so its scope interrupts them all)
 * @see https://www.erlang.org/doc/system/sup_princ.html
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { MetricsOptions } from "@async-ops/core/Metrics"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Health from "./Health.ts"
import * as internal from "./internal/supervisor.ts"

/**
 * A task's state: `starting` (just started), `running`, `restarting` (waiting for the restart delay after a
 * failure), and the ended states `stopped` (by `stop`, the scope, or an interruption), `failed` (crashed with no
 * restart left: the schedule ended or the cap was hit) and `completed` (returned normally; not restarted).
 *
 * @category models
 * @since 0.1.0
 */
export type TaskState = internal.TaskState

/**
 * A task in a listing: its state, how many times it was restarted, its last failure (`Tag: message`, or
 * `defect: message`), when its current run started and when it was first started (`Clock` epoch ms), and when it
 * ended (once ended).
 *
 * @category models
 * @since 0.1.0
 */
export interface TaskInfo {
  readonly name: string
  readonly state: TaskState
  readonly restarts: number
  readonly lastError?: string
  readonly startedAt: number
  readonly createdAt: number
  readonly endedAt?: number
}

/**
 * A restart cap: at most `count` restarts (an integer >= 0) within any `within` window (> 0, or `Infinity` for
 * "ever"); the failure that would exceed it marks the task `failed`.
 *
 * @category models
 * @since 0.1.0
 */
export interface MaxRestarts {
  readonly count: number
  readonly within: Duration.Input
}

/**
 * Restart policy of a task. `restart`: the delays between restarts, a `Schedule` fed the failure (default
 * `Schedule.exponential("1 second")`), or `false` to never restart; when the schedule ends the task is `failed`.
 * `maxRestarts`: the cap (default 5 within 1 minute). Failures and defects restart; a normal return completes
 * the task; an interruption stops it.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartOptions {
  readonly restart?: Schedule.Schedule<unknown, unknown> | false | undefined
  readonly maxRestarts?: MaxRestarts | undefined
  /**
   * Run the task as a singleton of this key (a non-empty string, given to `start`): it runs only while it holds
   * the key's lease from the `Election` in context (`@async-ops/core`'s `Election`: in-process by default,
   * fleet-wide with `RedisElection.layer` from `@async-ops/redis`), so one replica of the fleet runs it and another
   * takes over when that one stops or dies. While it waits for the lease the task shows as `running`. A lost lease
   * interrupts the task before the lease runs out and it campaigns again, without counting a restart.
   */
  readonly singleton?: string | undefined
}

/**
 * Gauge: tasks in the `running` state now. Attributes `primitive` (`"Supervisor"`) and `name`. Recorded with
 * `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const runningGauge: Metric.Gauge<number> = Metric.gauge("async_ops_supervisor_tasks_running", {
  description: "Supervised tasks running now"
})

/**
 * Counter: restarts of supervised tasks. Attributes `primitive` (`"Supervisor"`), `name` and `task` (the task's
 * name). Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const restartsCounter: Metric.Counter<number> = Metric.counter("async_ops_supervisor_restarts_total", {
  description: "Restarts of supervised tasks",
  incremental: true
})

/**
 * Counter: supervised tasks that reached the `failed` state (no restart left). Attributes `primitive`
 * (`"Supervisor"`), `name` and `task`. Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const failedCounter: Metric.Counter<number> = Metric.counter("async_ops_supervisor_tasks_failed_total", {
  description: "Supervised tasks that failed with no restart left",
  incremental: true
})

/**
 * Options of {@link make}: a `name` (in errors, stats, introspection, the health check and the `name` attribute of
 * its metrics; default `"Supervisor"`), the default restart policy of its tasks, `maxEnded`, how many ended tasks
 * the listing keeps (an integer >= 0 or `Infinity`; default 100; the oldest ended are forgotten first), and
 * `metrics`: report {@link runningGauge}, {@link restartsCounter} and {@link failedCounter} (default `false`:
 * nothing is recorded, at no cost).
 *
 * **Gotchas**: the two counters carry a `task` attribute, one series per task name: with metrics on, give tasks
 * names from a bounded set (`"consumer"`, not `"consumer-" + requestId`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends Omit<StartOptions, "singleton">, MetricsOptions {
  readonly name?: string | undefined
  readonly maxEnded?: number | undefined
  readonly metrics?: boolean | undefined
}

/**
 * Options of {@link Supervisor.stop}: how long to wait for the task to finish after interrupting it (> 0 or
 * `Infinity`; default 10 seconds).
 *
 * @category models
 * @since 0.1.0
 */
export interface StopOptions {
  readonly timeout?: Duration.Input | undefined
}

/**
 * Counts of a supervisor's tasks by state, and restarts in all.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  readonly tasks: number
  readonly starting: number
  readonly running: number
  readonly restarting: number
  readonly stopped: number
  readonly failed: number
  readonly completed: number
  readonly restarts: number
}

/**
 * A supervisor, made by {@link make}.
 *
 * - `start(name, effect, options?)`: starts a supervised task (it runs with the caller's services). Fails with
 *   {@link DuplicateTaskError} while a task of that name is live; an ended one is replaced.
 * - `stop(name, options?)`: interrupts the task and waits for it to end; past `timeout` it fails with
 *   {@link StopTimeoutError} (the task keeps finishing in the background). An ended task: nothing to do.
 * - `get`, `list`, `stats`: read the tasks.
 *
 * @category models
 * @since 0.1.0
 */
export interface Supervisor {
  readonly name: string
  readonly start: <A, E, R>(
    name: string,
    effect: Effect.Effect<A, E, R>,
    options?: StartOptions
  ) => Effect.Effect<void, DuplicateTaskError | SupervisorClosedError | InvalidOptionError, R>
  readonly stop: (
    name: string,
    options?: StopOptions
  ) => Effect.Effect<void, TaskNotFoundError | StopTimeoutError | InvalidOptionError>
  readonly get: (name: string) => Effect.Effect<TaskInfo, TaskNotFoundError>
  readonly list: Effect.Effect<ReadonlyArray<TaskInfo>>
  readonly stats: Effect.Effect<Stats>
}

/**
 * A live task with this name already exists in the supervisor.
 *
 * @category errors
 * @since 0.1.0
 */
export const DuplicateTaskError = internal.DuplicateTaskError
/**
 * @category errors
 * @since 0.1.0
 */
export type DuplicateTaskError = internal.DuplicateTaskError

/**
 * No task with this name is known to the supervisor.
 *
 * @category errors
 * @since 0.1.0
 */
export const TaskNotFoundError = internal.TaskNotFoundError
/**
 * @category errors
 * @since 0.1.0
 */
export type TaskNotFoundError = internal.TaskNotFoundError

/**
 * `stop` interrupted the task but it did not end within the timeout (a finalizer that takes too long).
 *
 * @category errors
 * @since 0.1.0
 */
export const StopTimeoutError = internal.StopTimeoutError
/**
 * @category errors
 * @since 0.1.0
 */
export type StopTimeoutError = internal.StopTimeoutError

/**
 * `start` was called after the supervisor's scope closed.
 *
 * @category errors
 * @since 0.1.0
 */
export const SupervisorClosedError = internal.SupervisorClosedError
/**
 * @category errors
 * @since 0.1.0
 */
export type SupervisorClosedError = internal.SupervisorClosedError

/**
 * The service key of the supervisor provided by {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Supervisor } from "@async-ops/service"
 *
 * const program = Effect.flatMap(Supervisor.Supervisor, (sup) => sup.start("job", Effect.never)).pipe(
 *   Effect.provide(Supervisor.layer({ name: "app" }))
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Supervisor: Context.Service<Supervisor, Supervisor> = internal.Supervisor

/**
 * Makes a supervisor for the lifetime of the current `Scope`: closing the scope interrupts every task and waits
 * for their finalizers. When an `Introspection` registry is in context, the supervisor's live tasks appear in it.
 *
 * **When to use**: the background work of a service (consumers, pollers, cache refreshers) that must keep
 * running, restart after crashes, and be listed and stopped by name.
 *
 * **Gotchas**:
 * - The cap counts restarts that happened within the window before a failure; with the default 5 in 1 minute a
 *   task that crashes at once is `failed` after its 5th restart.
 * - A task that returns is `completed`, not restarted: a loop that must run forever should never return.
 * - Options are checked here; a bad one fails with `InvalidOptionError`.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Supervisor } from "@async-ops/service"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sup = yield* Supervisor.make({ restart: Schedule.spaced("1 second") })
 *   yield* sup.start("poller", Effect.never)
 *   yield* sup.stop("poller", { timeout: "5 seconds" })
 *   return (yield* sup.get("poller")).state // => "stopped"
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: Options) => Effect.Effect<Supervisor, InvalidOptionError, Scope.Scope> = internal.make

/**
 * A layer of the {@link Supervisor} service; releasing the layer stops every task.
 *
 * @example
 * ```ts
 * import { Supervisor } from "@async-ops/service"
 *
 * const Live = Supervisor.layer({ name: "background", maxRestarts: { count: 10, within: "5 minutes" } })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: (options?: Options) => Layer.Layer<Supervisor, InvalidOptionError> = internal.layer

/**
 * Options of {@link healthCheck}: the check's name (default the supervisor's) and the probes it feeds (default
 * `["readiness"]`).
 *
 * @category models
 * @since 0.1.0
 */
export interface HealthCheckOptions {
  readonly name?: string | undefined
  readonly kinds?: ReadonlyArray<Health.Kind> | undefined
}

/**
 * A health check of a supervisor: degraded while any task is `failed` (a crash loop hit its cap), healthy
 * otherwise. Register it with `Health.register`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health, Supervisor } from "@async-ops/service"
 *
 * const program = Effect.gen(function*() {
 *   const sup = yield* Supervisor.make({ name: "workers" })
 *   yield* Health.register(Supervisor.healthCheck(sup))
 * })
 * ```
 *
 * @category health
 * @since 0.1.0
 */
export const healthCheck: (supervisor: Supervisor, options?: HealthCheckOptions) => Health.Check = internal.healthCheck
