/**
 * Structured concurrency: Python's `asyncio.TaskGroup` and trio's nursery on Effect fibers. A group gives its body a
 * way to spawn tasks; the group ends only when the body and every task have ended, so no task outlives the code
 * that started it. By default the first failure interrupts everything else and the group fails with every failure
 * (asyncio's `ExceptionGroup`) and none of the interruptions it caused. With `concurrency`, at most N tasks run at
 * once and later spawns wait in FIFO order at constant cost per task, however many wait. {@link cancellable} adds
 * trio's `nursery.cancel_scope.cancel()` (asyncio 3.15's `TaskGroup.cancel()`): an early exit that is not a failure.
 *
 * Cost: every task spawned in one scheduler turn starts from one scheduled flush (one scheduler hop per turn, not
 * per task), and a handle is a plain object until someone waits on it.
 *
 * @see https://docs.python.org/3/library/asyncio-task.html#task-groups
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import * as internal from "./internal/taskGroup.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * A handle to one task of a group.
 *
 * @category models
 * @since 0.1.0
 */
export interface Task<A, E> {
  /** The task's number in its group, from 0 in spawn order. */
  readonly id: number
  /** The name given at spawn, or `task-<id>`. */
  readonly name: string
  /** Waits for the task and returns its value, or fails as it failed (an interrupted task fails with an interrupt). */
  readonly join: Effect.Effect<A, E>
  /** Waits for the task and returns how it ended. Never fails. */
  readonly await: Effect.Effect<Exit.Exit<A, E>>
  /**
   * Interrupts the task and waits for it to end (its finalizers have run when this returns). A task still waiting
   * for a `concurrency` slot is removed and never starts. Interrupting a task on purpose does not fail the group.
   */
  readonly interrupt: Effect.Effect<void>
  /** How the task ended, or `undefined` while it is waiting or running. */
  readonly pollUnsafe: () => Exit.Exit<A, E> | undefined
}

/**
 * A group's statistics, like trio's `statistics()`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /**
   * `open`: accepting spawns; `cancelling`: a failure, a cancel or an interruption is stopping it (spawns fail with
   * {@link TaskGroupAbortingError}); `closed`: ended.
   */
  readonly state: "open" | "cancelling" | "closed"
  /** Tasks running now (counting those spawned this turn, which start on the next). */
  readonly running: number
  /** Tasks waiting for a `concurrency` slot. */
  readonly pending: number
  readonly succeeded: number
  readonly failed: number
  readonly interrupted: number
  /** The most tasks that ever ran at once. */
  readonly peakRunning: number
}

/**
 * The handle the body gets: spawn tasks into the group and read its statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface TaskGroup {
  readonly name: string
  /**
   * Starts `effect` as a task of the group and returns its handle at once (the task starts on a later scheduler
   * turn, after the spawner yields, in spawn order; or when a `concurrency` slot frees up). The task runs with the
   * services of the fiber that spawned it.
   *
   * The returned effect's error channel carries the task's `E` although `spawn` itself never fails with it: a
   * failing task fails the whole group, so this is how the task's error type reaches the type of
   * {@link scoped}. Spawning while the group is aborting (a failure in fail-fast mode, a failed body, a
   * {@link CancellableTaskGroup.cancel}, or an interruption is stopping it) fails with
   * {@link TaskGroupAbortingError} and nothing is started, as asyncio's `create_task` raises; spawning into a
   * group that has ended dies with {@link TaskGroupClosedError}.
   */
  readonly spawn: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: SpawnOptions
  ) => Effect.Effect<Task<A, E>, E | TaskGroupAbortingError, R>
  /** The group's statistics now. */
  readonly stats: Effect.Effect<Stats>
  /**
   * A snapshot of the tasks running now (not those waiting for a `concurrency` slot, counted in `stats`), in the
   * order they started: read-only, for introspection (a `/debug/tasks` page, aiomonitor's task list). The first
   * read switches on start times (see {@link TaskInfo.startedAt}).
   */
  readonly tasks: Effect.Effect<ReadonlyArray<TaskInfo>>
}

/**
 * The handle the body of {@link cancellable} gets: a {@link TaskGroup} that can also be cancelled.
 *
 * @category models
 * @since 0.1.0
 */
export interface CancellableTaskGroup extends TaskGroup {
  /**
   * Ends the group early without failing it: trio's `nursery.cancel_scope.cancel()`, asyncio 3.15's
   * `TaskGroup.cancel()`. The body (if it is still running) and every task are interrupted, spawns waiting for a
   * slot are dropped, finalizers run, and once all have ended {@link cancellable} succeeds: `Option.some` of the
   * body's value if the body had returned before the cancel, `Option.none()` if the cancel interrupted it.
   * Callable from the body, from any task, or from outside; a group that is already aborting or has ended is left
   * as it is (a failure that came first still fails the group).
   *
   * **Gotchas**: the interruption is delivered at once, also to the caller when it is the body or a task of the
   * group: code after `cancel` in that fiber does not run (its finalizers do). A finalizer that fails or dies
   * during the cancel fails the group with that cause, as a failure would.
   */
  readonly cancel: Effect.Effect<void>
}

/**
 * One running task in a {@link TaskGroup.tasks} snapshot.
 *
 * @category models
 * @since 0.1.0
 */
export interface TaskInfo {
  /** The task's number in its group, from 0 in spawn order. */
  readonly id: number
  /** The name given at spawn, or `task-<id>`. */
  readonly name: string
  /**
   * When the task started running (`Clock` epoch milliseconds). Start times are taken only once `tasks` has been
   * read (so groups nobody inspects pay nothing); a task already running at that first read gets its time.
   */
  readonly startedAt: number
}

/**
 * Options of {@link TaskGroup.spawn}.
 *
 * @category models
 * @since 0.1.0
 */
export interface SpawnOptions {
  /** A name for the task (shown in `Task.name`). Default `task-<id>`. */
  readonly name?: string | undefined
}

/**
 * Options of {@link scoped}. With `metrics: true` the group reports (primitive `"TaskGroup"`, attribute `name`):
 * in flight (tasks running), waiting (spawns waiting for a `concurrency` slot), limit (`concurrency`, when
 * bounded) and acquired (tasks started), to the MetricRegistry of the context `scoped` runs in. Groups with the
 * same name share one series.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** A name for the group, used in errors, statistics and metrics. Default `"TaskGroup"`. */
  readonly name?: string | undefined
  /**
   * The most tasks that run at once: an integer >= 1, or `"unbounded"` (the default). Spawns past the limit wait
   * in FIFO order; the body does not count.
   */
  readonly concurrency?: number | "unbounded" | undefined
  /**
   * `"fail-fast"` (the default, asyncio and trio semantics): the first failure of a task or of the body interrupts
   * every other task and the body. `"supervise"`: a failing task does not touch its siblings; every failure is
   * reported when the group ends. A failing body still interrupts the tasks in both modes.
   */
  readonly mode?: "fail-fast" | "supervise" | undefined
}

/**
 * `spawn` was called on a group that has already ended. This is a defect (a programming error: a task handle or
 * the group escaped the body), raised with `Effect.die`.
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskGroupClosedError extends Data.TaggedError("TaskGroupClosedError")<{
  readonly group: string
}> {
  override get message(): string {
    return `TaskGroup "${this.group}" is closed: spawn was called after the group ended`
  }
}

/**
 * `spawn` was called while the group is aborting: a failure (fail-fast mode), a failed body, a cancel or an
 * interruption is stopping it, and the task was not started. A typed failure of `spawn`, like the `RuntimeError`
 * asyncio's `create_task` raises in a shutting-down group: the work the caller meant to schedule did not start, so
 * the caller can do it another way (or let it go). Uncaught in the body or a task of the same group, it is left out
 * of the group's `Cause` like the interruptions the abort causes, since the reason for the abort is reported.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskGroup } from "@async-ops/core"
 *
 * const flushOnExit = (group: TaskGroup.TaskGroup, flush: Effect.Effect<void>) =>
 *   group.spawn(flush).pipe(Effect.catchTag("TaskGroupAbortingError", () => flush)) // run it inline instead
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskGroupAbortingError extends Data.TaggedError("TaskGroupAbortingError")<{
  readonly group: string
}> {
  override get message(): string {
    return `TaskGroup "${this.group}" is aborting: the task was not started`
  }
}

/**
 * Runs `body` with a new task group and waits for the body and every task spawned into the group to end.
 * Returns the body's value.
 *
 * Failure semantics (fail-fast, the default): the first task or body failure interrupts every other task and the
 * body, their finalizers run, and the group fails with a `Cause` holding every failure that happened (two tasks
 * failing in the same scheduler turn both appear), without the interruptions the group itself caused. In
 * `"supervise"` mode failing tasks leave their siblings alone and every failure is reported when the group ends.
 * Interrupting the fiber running the group interrupts the body and every task, waits for them, and the group ends
 * interrupted.
 *
 * **When to use**: whenever work fans out into tasks that must not outlive the code that started them (Python's
 * `async with asyncio.TaskGroup() as tg: tg.create_task(...)`), especially when tasks spawn more tasks or the
 * number of tasks is not known up front. For a fixed list of inputs with per-item outcomes, `Gather.settle` fits
 * better.
 *
 * **Gotchas**:
 * - A task handle's `join` inside the body waits for that task; the group waits for all of them anyway.
 * - Failures of tasks and body are combined with Effect's rules: if any of them is a defect, Effect turns typed
 *   failures in the same cause into defects too ("defect election"), so `catchTag` no longer sees them. Inspect
 *   `Effect.catchCause` / `cause.reasons` when defects are possible.
 * - A task that is uninterruptible keeps the group open until it ends: that is the structured-concurrency contract.
 * - The name follows `Effect.scoped` (the group lives exactly as long as this effect), not the `XScoped` suffix
 *   (`forkScoped`, `takeScoped`) that ties a resource to the caller's `Scope`: a group cannot outlive its body,
 *   so there is no variant that takes a Scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskGroup } from "@async-ops/core"
 *
 * const program = TaskGroup.scoped((group) =>
 *   Effect.gen(function*() {
 *     const a = yield* group.spawn(Effect.succeed(1))
 *     const b = yield* group.spawn(Effect.succeed(2))
 *     return [a, b] as const
 *   })
 * ).pipe(Effect.flatMap(([a, b]) => Effect.all([a.join, b.join]))) // [1, 2]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const scoped: <A, E, R>(
  body: (group: TaskGroup) => Effect.Effect<A, E, R>,
  options?: Options
) => Effect.Effect<A, E | InvalidOptionError, R> = internal.scoped

/**
 * Like {@link scoped}, and the body's group can also be cancelled ({@link CancellableTaskGroup.cancel}): an early
 * exit that is not a failure. Succeeds with `Option.some` of the body's value when the body returned (also if a
 * cancel came later, while tasks still ran), or `Option.none()` when a cancel interrupted the body before it
 * returned. Failures still win: a task or body failure (also one raised by a finalizer during the cancel) fails
 * the group as in {@link scoped}.
 *
 * **When to use**: work that can stop as soon as it has what it needs (the first mirror that answers, a search
 * that found its result, a loop stopped by a shutdown signal): trio's `nursery.cancel_scope.cancel()` and asyncio
 * 3.15's `TaskGroup.cancel()`. Without a cancel, `scoped` is simpler (no Option).
 *
 * **Gotchas**:
 * - The Option says whether the body returned, not whether a cancel happened.
 * - Spawning after the cancel fails with {@link TaskGroupAbortingError}.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { TaskGroup } from "@async-ops/core"
 *
 * // The first mirror to answer wins; the group then stops the others.
 * const fetchFrom = (mirror: string) => Effect.as(Effect.sleep(mirror.length * 10), `body from ${mirror}`)
 * const program = Effect.gen(function*() {
 *   const winner = yield* Ref.make<string | undefined>(undefined)
 *   yield* TaskGroup.cancellable((group) =>
 *     Effect.forEach(["eu-west", "us", "ap-southeast"], (mirror) =>
 *       group.spawn(fetchFrom(mirror).pipe(Effect.tap((body) => Ref.set(winner, body)), Effect.andThen(group.cancel))))
 *   )
 *   return yield* Ref.get(winner) // "body from us"
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const cancellable: <A, E, R>(
  body: (group: CancellableTaskGroup) => Effect.Effect<A, E, R>,
  options?: Options
) => Effect.Effect<Option.Option<A>, E | InvalidOptionError, R> = internal.cancellable

/**
 * Whether a value is a task group (the handle {@link scoped} and {@link cancellable} give their body).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskGroup } from "@async-ops/core"
 *
 * const program = TaskGroup.scoped((group) => Effect.succeed(TaskGroup.isTaskGroup(group))) // true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isTaskGroup: (u: unknown) => u is TaskGroup = internal.isTaskGroup
