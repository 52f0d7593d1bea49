/**
 * Producer-consumer as one object: N workers run a handler over a bounded {@link WorkQueue}. It answers the Python
 * pattern of `asyncio.Queue(maxsize)` plus N `create_task(worker(queue))` plus `await queue.join()` plus cancelling
 * the workers, and goes further: every submitted item ends as exactly one outcome (done, or failed with its typed
 * error on a dead-letter stream after an optional retry `Schedule`), a handler defect fails the item and not the
 * pool, and closing the pool's scope drains the work first, within an optional time budget, reporting whatever it
 * had to cut off.
 *
 * @see https://docs.python.org/3/library/asyncio-queue.html#examples
 * @see Effect's `Schedule` (retries) and `Stream` (the dead-letter stream)
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/workerPool.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"
import type { Order } from "./WorkQueue.ts"

/**
 * Options of {@link make}. With `metrics: true` the pool reports (primitive `"WorkerPool"`, attribute `name`):
 * queue depth (items waiting for a worker), waiting (submitters suspended on a full queue), in flight (handlers
 * running), limit (`workers`), acquired (items done) and rejected (items failed: a typed failure or a defect after
 * the retries), to the MetricRegistry of the context it is made in.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<A, E, R> extends MetricsOptions {
  /** A name, used in errors, statistics and metrics. Default `"WorkerPool"`. */
  readonly name?: string | undefined
  /** How many workers run the handler at once: an integer >= 1. */
  readonly workers: number
  /**
   * How many submitted items may wait for a worker: an integer >= 1, or `"unbounded"`. When the queue is full,
   * `submit` suspends (backpressure).
   */
  readonly capacity: number | "unbounded"
  /** Processes one item. Its value is discarded; a failure or defect becomes the item's failed outcome. */
  readonly handler: (item: A) => Effect.Effect<unknown, E, R>
  /**
   * Retries a failing item (typed failures only; defects are not retried) on this schedule before it counts as
   * failed. The worker holds the item while it waits between attempts. Default: no retry.
   */
  readonly retry?: Schedule.Schedule<unknown, NoInfer<E>, never, R> | undefined
  /**
   * How long closing the pool may wait for queued and running items to finish (a duration >= 0). When it runs
   * out, queued items are dropped and running handlers are interrupted; each of them is published on `failures`
   * as `Interrupted`. Default: no limit (close waits for all the work).
   */
  readonly closeTimeout?: Duration.Input | undefined
  /** The order in which queued items reach the workers. Default `"fifo"`. */
  readonly order?: Order | undefined
  /** Required with `order: "priority"`: the item's priority, lower first. */
  readonly priority?: ((item: A) => number) | undefined
  /**
   * How many failures the dead-letter stream keeps until they are read: an integer >= 1 (the oldest are dropped
   * past it; `stats` still counts them) or `"unbounded"` (the default).
   */
  readonly failuresCapacity?: number | "unbounded" | undefined
}

/**
 * A failed outcome, as published on {@link WorkerPool.failures}:
 * - `Failure`: the handler failed with a typed error (after the retries, if any).
 * - `Defect`: the handler died (threw, or `Effect.die`); defects are not retried.
 * - `Interrupted`: the item was cut off when the pool closed past its `closeTimeout` (`started` tells whether a
 *   worker had begun it), or the handler interrupted itself.
 *
 * @category models
 * @since 0.1.0
 */
export type DeadLetter<A, E> =
  | {
    readonly _tag: "Failure"
    readonly item: A
    readonly error: E
    /** How many times the handler ran for this item. */
    readonly attempts: number
    readonly cause: Cause.Cause<E>
  }
  | {
    readonly _tag: "Defect"
    readonly item: A
    readonly defect: unknown
    readonly attempts: number
    readonly cause: Cause.Cause<E>
  }
  | {
    readonly _tag: "Interrupted"
    readonly item: A
    /** Whether a worker had started the item. */
    readonly started: boolean
    readonly attempts: number
  }

/**
 * A snapshot of a pool's counters.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /** `open`; `closing` (draining, submits fail); `closed`. */
  readonly state: "open" | "closing" | "closed"
  /** The number of workers. */
  readonly workers: number
  /** Items submitted and waiting for a worker. */
  readonly queued: number
  /** Items a worker is processing now. */
  readonly active: number
  /** Producers suspended in `submit` on a full queue. */
  readonly waitingSubmitters: number
  /** Items accepted, in total. */
  readonly submitted: number
  /** Items whose handler succeeded. */
  readonly done: number
  /** Items that failed (typed failure or defect), published on `failures`. */
  readonly failed: number
  /** Items cut off by a close past `closeTimeout` (or whose handler interrupted itself), published on `failures`. */
  readonly interrupted: number
  /** Retries made, in total (an item that succeeded on its third attempt counts 2). */
  readonly retried: number
}

/**
 * A running worker pool.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkerPool<A, E> {
  readonly name: string
  /**
   * Submits an item, suspending while the queue is full (backpressure). Fails with {@link WorkerPoolClosedError}
   * once the pool is closing. An interrupted submitter's item is not queued.
   */
  readonly submit: (item: A) => Effect.Effect<void, WorkerPoolClosedError>
  /** Submits several items in order, suspending whenever the queue is full. Not atomic (see `WorkQueue.offerAll`). */
  readonly submitAll: (items: Iterable<A>) => Effect.Effect<void, WorkerPoolClosedError>
  /** Submits an item if there is room now (`true`), or returns `false` without waiting. */
  readonly submitIfAvailable: (item: A) => Effect.Effect<boolean, WorkerPoolClosedError>
  /**
   * The dead-letter stream: every failed outcome, once, in the order they happened, kept until read. It ends
   * when the pool has closed and every failure has been read. Read it from one consumer (each failure is
   * delivered to one reader).
   */
  readonly failures: Stream.Stream<DeadLetter<A, E>>
  /** Waits until every item submitted so far has its outcome. The pool stays open. */
  readonly drain: Effect.Effect<void>
  /** The pool's counters now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * `submit` was called on a pool that is closing or closed.
 *
 * @category errors
 * @since 0.1.0
 */
export class WorkerPoolClosedError extends Data.TaggedError("WorkerPoolClosedError")<{
  readonly pool: string
}> {
  override get message(): string {
    return `WorkerPool "${this.pool}" is closed`
  }
}

/**
 * Starts a worker pool tied to the current scope: `workers` fibers take submitted items from a queue of
 * `capacity` and run `handler` on each. Closing the scope closes the pool: submits fail, the workers finish what
 * is queued and running (within `closeTimeout`, if given; past it, the rest is cut off and reported), and the
 * `failures` stream ends.
 *
 * **When to use**: a fixed set of workers over a stream of jobs (crawlers, uploads, message handling) where every
 * job must be accounted for. For a one-off list of inputs, `Gather.settle` (one outcome per input) or
 * `Effect.forEach` with `concurrency` is simpler.
 *
 * **Gotchas**:
 * - A handler that never ends holds its worker, and without `closeTimeout` keeps the scope from closing.
 * - Items wait in the queue; between retries the worker holds its item, so slow retries slow the pool.
 * - Read `failures` (or bound it with `failuresCapacity`): unread failures are kept in memory.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   let total = 0
 *   const pool = yield* WorkerPool.make({
 *     workers: 3,
 *     capacity: 10,
 *     handler: (n: number) => Effect.sync(() => { total += n })
 *   })
 *   yield* pool.submitAll([1, 2, 3, 4])
 *   yield* pool.drain
 *   return total // 10
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <A, E = never, R = never>(
  options: Options<A, E, R>
) => Effect.Effect<WorkerPool<A, E>, InvalidOptionError, Scope.Scope | R> = internal.make

/**
 * Whether a value is a worker pool made by {@link make}.
 *
 * **When to use**: narrowing an `unknown` (a value from a registry, a test) before using it as a pool.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* WorkerPool.make({ workers: 2, capacity: 10, handler: (_: number) => Effect.void })
 *   return [WorkerPool.isWorkerPool(pool), WorkerPool.isWorkerPool({})] // [true, false]
 * }))
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isWorkerPool: (u: unknown) => u is WorkerPool<unknown, unknown> = internal.isWorkerPool
