/**
 * Periodic tasks: run an effect every interval or on a cron expression, with jitter, without overlapping runs,
 * with a per-run timeout, and with failures isolated (a failing run is logged at warning level and counted, and
 * the next run still happens). The task stops when its scope closes, interrupting or awaiting (within a bound) a
 * run in progress. It answers the Python guide's `while True: await work(); await asyncio.sleep(n)` loop in a
 * background task, APScheduler's `IntervalTrigger`/`CronTrigger` with `max_instances=1` and `coalesce`, and
 * Kubernetes CronJob's `concurrencyPolicy: Forbid`.
 *
 * Ticks come from Effect's `Schedule` (`Schedule.fixed` for `every`, `Schedule.cron` for `cron`, or a schedule
 * of yours), so they follow the `Clock` and `TestClock` drives them in tests. Unlike `Effect.repeat` /
 * `Effect.schedule`, ticks keep their cadence while a run is in progress (a slow run does not shift later ticks),
 * and what happens to a tick that finds a run in progress is an explicit choice (`overlap`).
 *
 * @see `Schedule.fixed`, `Schedule.cron`, `Cron.parse` (the tick sources)
 * @see https://apscheduler.readthedocs.io/en/3.x/userguide.html#missed-job-executions-and-coalescing
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { MetricsOptions } from "@async-ops/core/Metrics"
import type * as Cause from "effect/Cause"
import type * as Cron from "effect/Cron"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/periodic.ts"

/**
 * A run took longer than the `timeout` option: it was interrupted and counted as a failure.
 *
 * @category errors
 * @since 0.1.0
 */
export class PeriodicTimeoutError extends Data.TaggedError("PeriodicTimeoutError")<{
  /** The periodic task's name. */
  readonly name: string
  /** The run timeout in milliseconds. */
  readonly timeout: number
}> {
  override get message(): string {
    return `Periodic ${this.name}: run timed out after ${this.timeout} ms`
  }
}

/**
 * Whether a value is a {@link PeriodicTimeoutError}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isPeriodicTimeoutError = (u: unknown): u is PeriodicTimeoutError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "PeriodicTimeoutError"

/**
 * What a tick (or {@link Periodic.trigger}) that finds a run in progress does: `"skip"` drops it (counted in
 * `skipped`); `"wait"` queues one run that starts as soon as the current one ends (further ticks during the same
 * run are coalesced into that one and counted as skipped).
 *
 * @category models
 * @since 0.1.0
 */
export type Overlap = "skip" | "wait"

/**
 * Counter: runs started (`stats.runs`). Attributes `primitive` (`"Periodic"`) and `name`. Recorded with
 * `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const runsCounter: Metric.Counter<number> = Metric.counter("async_ops_periodic_runs_total", {
  description: "Periodic task runs started",
  incremental: true
})

/**
 * Counter: runs that failed, died or timed out (`stats.failures`; interrupted runs are not failures). Attributes
 * `primitive` (`"Periodic"`) and `name`. Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const failuresCounter: Metric.Counter<number> = Metric.counter("async_ops_periodic_failures_total", {
  description: "Periodic task runs that failed, died or timed out",
  incremental: true
})

/**
 * Counter: ticks and triggers dropped because a run was in progress (`stats.skipped`). Attributes `primitive`
 * (`"Periodic"`) and `name`. Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const skippedCounter: Metric.Counter<number> = Metric.counter("async_ops_periodic_skipped_total", {
  description: "Periodic task ticks skipped because a run was in progress",
  incremental: true
})

/**
 * Histogram: how long each finished run took (success or failure), in milliseconds. Attributes `primitive`
 * (`"Periodic"`) and `name`. Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const durationHistogram: Metric.Histogram<number> = Metric.histogram("async_ops_periodic_run_duration_ms", {
  description: "Duration of periodic task runs, in milliseconds",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 2, count: 22 })
})

/**
 * Options of {@link make}. Exactly one of `every`, `cron` and `schedule` is required.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** The task's name, used in logs, errors, `stats` and the `name` attribute of its metrics. Default `"periodic"`. */
  readonly name?: string | undefined
  /**
   * Report {@link runsCounter}, {@link failuresCounter}, {@link skippedCounter} and {@link durationHistogram}.
   * Default `false`: nothing is recorded, at no cost.
   */
  readonly metrics?: boolean | undefined
  /**
   * Run at a fixed rate: a finite duration > 0. Ticks fall at start + k × every (k = 1, 2, ...) whatever the runs
   * take (`Schedule.fixed`).
   */
  readonly every?: Duration.Input | undefined
  /**
   * Run on a cron expression (5 fields, or 6 with seconds first), e.g. `"0 9 * * 1-5"` (09:00 on weekdays), or a
   * parsed `Cron` (`Schedule.cron`). Times are UTC unless `timeZone` is given.
   */
  readonly cron?: string | Cron.Cron | undefined
  /** The time zone of a `cron` string, e.g. `"Europe/Paris"`. Default UTC. */
  readonly timeZone?: string | undefined
  /** Any Effect schedule: each step's delay is the time to the next tick; the task ends when the schedule does. */
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * Random delay added to each tick, as a ratio of the gap to the next tick: a number in [0, 1). A tick fires at its
   * time plus `jitter × gap × u`, u uniform in [0, 1) from Effect's `Random` (seed it with `Random.withSeed`). Ticks
   * are never early and jitter does not accumulate. Default 0.
   */
  readonly jitter?: number | undefined
  /** What a tick that finds a run in progress does. Default `"skip"`. */
  readonly overlap?: Overlap | undefined
  /** The longest a run may take: a finite duration > 0; a run past it is interrupted and counted as a failure. */
  readonly timeout?: Duration.Input | undefined
  /** Also run once as soon as the task starts, before the first tick. Default `false`. */
  readonly runOnStart?: boolean | undefined
  /** What closing the scope does to a run in progress: interrupt it (default) or await it for `stopTimeout`. */
  readonly onStop?: "interrupt" | "await" | undefined
  /** With `onStop: "await"`, how long to wait for the run before interrupting it: a duration >= 0. Default 30 s. */
  readonly stopTimeout?: Duration.Input | undefined
  /**
   * Run as a singleton of this key (a non-empty string): the task ticks only while it holds the key's lease from
   * the `Election` in context (`@async-ops/core`'s `Election`; in-process by default, fleet-wide with
   * `RedisElection.layer` from `@async-ops/redis`). Replicas that do not lead wait; when the leader's task stops or
   * its process dies, another takes over (with Redis, within the lease TTL). A leader that loses its lease has its
   * run interrupted before the lease runs out and campaigns again; its schedule (and `runOnStart`) restarts when it
   * leads again. Default: not a singleton.
   */
  readonly singleton?: string | undefined
}

/**
 * A periodic task's statistics. Times are `Clock` milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats<E> {
  readonly name: string
  /** Runs started. */
  readonly runs: number
  /** Runs that succeeded. */
  readonly successes: number
  /** Runs that failed, died or timed out (interrupted runs are not failures). */
  readonly failures: number
  /** Ticks and triggers dropped because a run was in progress. */
  readonly skipped: number
  /** When the last run started, or `undefined` before the first. */
  readonly lastRunAt: number | undefined
  /** How long the last finished run took, in milliseconds. */
  readonly lastDuration: number | undefined
  /** The cause of the last failed run, or `undefined` if none failed yet. */
  readonly lastError: Cause.Cause<E | PeriodicTimeoutError> | undefined
  /** When the next tick is due (jitter included), or `undefined` once the schedule ended or the task stopped. */
  readonly nextRunAt: number | undefined
  /** Whether a run is in progress. */
  readonly running: boolean
  /** Whether a run is queued behind the current one (`overlap: "wait"`). */
  readonly pending: boolean
}

/**
 * A running periodic task.
 *
 * @category models
 * @since 0.1.0
 */
export interface Periodic<E> {
  readonly name: string
  /**
   * Asks for a run now, outside the schedule, under the same `overlap` rule as a tick: `"started"` when no run was
   * in progress, `"queued"` (wait mode) or `"skipped"` otherwise, `"stopped"` after the scope closed. It does not
   * wait for the run; watch `stats`, or use {@link Periodic.awaitRuns}.
   */
  readonly trigger: Effect.Effect<"started" | "queued" | "skipped" | "stopped">
  /** Waits until at least `n` runs have finished (succeeded or failed) since the task started. */
  readonly awaitRuns: (n: number) => Effect.Effect<void>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats<E>>
}

/**
 * Starts a periodic task in the current scope; it stops when the scope closes.
 *
 * **When to use**: cache refreshes, cleanup jobs, heartbeats, metric pushes, anything the Python guide runs in a
 * `while True` loop in a background task, or a cron job that belongs to a service.
 *
 * **Gotchas**: with `every`, the first run is one interval after the start (set `runOnStart` for one at once).
 * A run that fails is logged at warning level (`Effect.logWarning`) and counted; it never stops the task. Defects
 * are isolated the same way. Fails with `InvalidOptionError` for: none or more than one of `every`/`cron`/
 * `schedule`; an `every` or `timeout` that is zero, negative, NaN or infinite; an unparsable `cron` or unknown
 * `timeZone`; a `jitter` outside [0, 1); an unknown `overlap`/`onStop`; a negative or NaN `stopTimeout`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Periodic } from "@async-ops/service"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const task = yield* Periodic.make(Effect.log("refresh cache"), {
 *     name: "cache-refresh",
 *     every: "30 seconds",
 *     jitter: 0.1,
 *     timeout: "10 seconds"
 *   })
 *   yield* task.awaitRuns(3)
 *   return yield* task.stats // => { runs: 3, failures: 0, ... }
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <A, E, R>(
  task: Effect.Effect<A, E, R>,
  options: Options
) => Effect.Effect<Periodic<E>, InvalidOptionError, R | Scope.Scope> = internal.make

/**
 * Runs a periodic task until the schedule ends (with `schedule`; `every` and `cron` never end), or forever:
 * {@link make} in a scope of its own, closed when this effect is interrupted.
 *
 * **When to use**: as a background fiber of a service (`Effect.forkScoped(Periodic.run(...))`, or a `Supervisor`
 * task), when nothing needs the handle.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Periodic } from "@async-ops/service"
 *
 * const cleanup = Periodic.run(Effect.log("purge expired sessions"), { cron: "0 * * * *" })
 * const service = Effect.gen(function*() {
 *   yield* Effect.forkScoped(cleanup)
 *   // ... the rest of the service
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const run: <A, E, R>(
  task: Effect.Effect<A, E, R>,
  options: Options
) => Effect.Effect<void, InvalidOptionError, R> = internal.run
