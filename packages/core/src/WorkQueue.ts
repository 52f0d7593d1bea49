/**
 * A work queue with Python's `asyncio.Queue` semantics on Effect: FIFO, LIFO (`asyncio.LifoQueue`) and priority
 * (`asyncio.PriorityQueue`) orders, a bounded capacity that suspends producers (backpressure), `taskDone`/`join` to
 * wait until every item has been processed, and Python 3.13's `shutdown` with a draining and an immediate mode.
 * Beyond asyncio, `takeScoped` acknowledges an item when the consumer's scope closes, whatever the exit, so a
 * forgotten `taskDone` cannot hang `join`; batch takes (`takeUpTo`, `takeBetween`) move many items per step.
 *
 * Waiting is O(1) per waiter, interrupted producers and consumers leave no trace, and wake-ups go through the
 * scheduler (as asyncio's `call_soon` does), so producers and consumers run in bursts instead of one item per
 * context switch.
 *
 * @see https://docs.python.org/3/library/asyncio-queue.html
 * @see Effect's `Queue` (no `join`/`task_done`, no priority order), which this complements
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/workQueue.ts"
import { QueueShutdownError, TaskDoneError } from "./internal/workQueue.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * Errors of this module, defined next to the code that raises them (internal modules never import public ones, so
 * every public module can be imported on its own).
 *
 * @since 0.1.0
 */
export { QueueShutdownError, TaskDoneError }

/**
 * The order in which items come out: `"fifo"` (first in, first out; asyncio.Queue), `"lifo"` (last in, first out;
 * asyncio.LifoQueue) or `"priority"` (lowest priority number first, FIFO among equal priorities;
 * asyncio.PriorityQueue).
 *
 * @category models
 * @since 0.1.0
 */
export type Order = "fifo" | "lifo" | "priority"

/**
 * Options of {@link make}. With `metrics: true` the queue reports (primitive `"WorkQueue"`, attribute `name`):
 * queue depth (`size`), waiting (consumers waiting in a take plus producers waiting on a full queue), in flight
 * (items taken and not yet marked done), acquired (items taken) and rejected (`offerIfAvailable` refusals on a
 * full queue), to the MetricRegistry of the context it is made in.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<A> extends MetricsOptions {
  /** A name, used in errors, statistics and metrics. Default `"WorkQueue"`. */
  readonly name?: string | undefined
  /**
   * The most items the queue holds: an integer >= 1, or `"unbounded"` (the default, like asyncio's `maxsize=0`).
   * When the queue is full, `offer` suspends until a consumer takes an item (backpressure).
   */
  readonly capacity?: number | "unbounded" | undefined
  /** The order items come out in. Default `"fifo"`. */
  readonly order?: Order | undefined
  /**
   * Required with `order: "priority"` (and only then): the item's priority, lower first. It is read once, when the
   * item is offered; `NaN` counts as `Infinity` (last).
   */
  readonly priority?: ((item: A) => number) | undefined
}

/**
 * A snapshot of a queue's counters, like trio's `statistics()`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  readonly order: Order
  /** The capacity (`Infinity` when unbounded). */
  readonly capacity: number
  /** `open`; `shutdown` (draining: takes still get what is queued); `shutdown-immediate` (queued items dropped). */
  readonly state: "open" | "shutdown" | "shutdown-immediate"
  /** Items in the queue (Python's `qsize()`). */
  readonly size: number
  /** Items offered and not yet marked done: queued plus taken-but-not-done. `join` waits for this to reach 0. */
  readonly unfinished: number
  /** Items taken and not yet marked done. */
  readonly inFlight: number
  /** Consumers suspended in a take. */
  readonly waitingTakers: number
  /** Producers suspended in an offer on a full queue. */
  readonly waitingPutters: number
  /** Items accepted into the queue, in total. */
  readonly offered: number
  /** Items handed to consumers, in total. */
  readonly taken: number
  /** Items marked done, in total. */
  readonly done: number
  /** Items an immediate shutdown threw away, in total. */
  readonly dropped: number
}

/**
 * A work queue. Every operation is a method (an Effect or a function returning one).
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkQueue<A> {
  readonly name: string
  /**
   * Puts an item in the queue, suspending while it is full (backpressure). Waiting producers are served in FIFO
   * order. Fails with {@link QueueShutdownError} once the queue is shut down, also while waiting. An interrupted
   * producer's item is not enqueued.
   */
  readonly offer: (item: A) => Effect.Effect<void, QueueShutdownError>
  /**
   * Puts several items in order, suspending whenever the queue is full. Not atomic: if it fails or is interrupted,
   * the items before the one it was waiting with are in the queue and the rest are not.
   */
  readonly offerAll: (items: Iterable<A>) => Effect.Effect<void, QueueShutdownError>
  /**
   * Puts an item in the queue if there is room now and returns `true`; returns `false` without waiting when the
   * queue is full (Python's `put_nowait`, which raises `QueueFull` instead). Fails once the queue is shut down.
   */
  readonly offerIfAvailable: (item: A) => Effect.Effect<boolean, QueueShutdownError>
  /**
   * Takes the next item, suspending while the queue is empty. Waiting consumers are served in FIFO order. After
   * `shutdown()` it still returns what is queued, then fails with {@link QueueShutdownError}. Every item taken
   * must be marked done with {@link WorkQueue.taskDone} for `join` to return (or use `takeScoped`).
   */
  readonly take: Effect.Effect<A, QueueShutdownError>
  /** Takes the next item if there is one (`Option.none()` otherwise), without waiting. */
  readonly takeIfAvailable: Effect.Effect<Option.Option<A>, QueueShutdownError>
  /**
   * Takes between 1 and `max` items: waits for at least one, then takes every item queued, up to `max`, in one
   * step. Each item taken counts for `taskDone` (use `taskDoneN(items.length)`). `max` must be an integer >= 1 or
   * `Infinity`.
   */
  readonly takeUpTo: (max: number) => Effect.Effect<Array<A>, QueueShutdownError | InvalidOptionError>
  /**
   * Takes between `min` and `max` items: waits until `min` are queued, then takes every item queued, up to `max`,
   * including those that arrived while it was being woken. `min` is capped at the capacity, which a queue never
   * exceeds. After `shutdown()` it returns what is left, even fewer than `min`, then fails.
   *
   * **Gotchas**: a consumer waiting for `min` items does not block consumers behind it that want fewer: they are
   * served from what is queued.
   */
  readonly takeBetween: (
    min: number,
    max: number
  ) => Effect.Effect<Array<A>, QueueShutdownError | InvalidOptionError>
  /**
   * Takes the next item and marks it done when the caller's scope closes, whatever the exit (success, failure or
   * interruption), so a forgotten `taskDone` cannot hang `join`.
   *
   * **Gotchas**: do not also call `taskDone` for an item taken this way; it would count twice.
   */
  readonly takeScoped: Effect.Effect<A, QueueShutdownError, Scope.Scope>
  /**
   * Marks one taken item as processed (Python's `task_done()`). Fails with {@link TaskDoneError} when called more
   * times than items were taken.
   */
  readonly taskDone: Effect.Effect<void, TaskDoneError>
  /** Marks `n` taken items as processed at once (after a batch take); fails, changing nothing, if fewer are taken. */
  readonly taskDoneN: (n: number) => Effect.Effect<void, TaskDoneError>
  /**
   * Waits until every item offered has been taken and marked done: items still queued count as unfinished, as in
   * asyncio. Returns at once when nothing is unfinished.
   */
  readonly join: Effect.Effect<void>
  /**
   * Shuts the queue down (Python 3.13's `shutdown`). Producers, waiting or not, fail with
   * {@link QueueShutdownError} at once. By default consumers drain what is queued, then fail with it; with
   * `{ immediate: true }` queued items are dropped (they stop counting as unfinished, which may release `join`)
   * and waiting consumers fail at once. Items already taken still count until marked done. Idempotent; an
   * immediate shutdown after a draining one drops what is left.
   */
  readonly shutdown: (options?: { readonly immediate?: boolean | undefined }) => Effect.Effect<void>
  /** Whether `shutdown` was called. */
  readonly isShutdown: Effect.Effect<boolean>
  /** Items in the queue now (Python's `qsize()`). */
  readonly size: Effect.Effect<number>
  /** The queue's counters now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * Makes a work queue.
 *
 * **When to use**: producer-consumer pipelines that need to know when all work is done (`join`), a bounded buffer
 * between stages (`capacity`), LIFO or priority ordering, or a clean drain on shutdown. For N workers running a
 * handler over the queue, `WorkerPool` wires this up for you. For plain streaming without acknowledgement, Effect's
 * `Queue` or `Stream` is enough.
 *
 * **Gotchas**:
 * - The default capacity is unbounded, as in Python: set `capacity` to get backpressure.
 * - `join` counts items still queued: it waits for consumers, so start them before you join.
 * - Woken producers and consumers run on their next scheduler turn, not inside the call that woke them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkQueue } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* WorkQueue.make<number>({ capacity: 10 })
 *   let sum = 0
 *   yield* Effect.forkChild(Effect.forever(Effect.gen(function*() {
 *     sum += yield* queue.take
 *     yield* queue.taskDone
 *   })))
 *   yield* queue.offerAll([1, 2, 3])
 *   yield* queue.join
 *   return sum // 6
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <A>(options?: Options<A>) => Effect.Effect<WorkQueue<A>, InvalidOptionError> = internal.make

/**
 * Whether a value is a work queue made by {@link make}.
 *
 * **When to use**: narrowing an `unknown` (a value from a registry, a test) before using it as a queue.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkQueue } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* WorkQueue.make<number>()
 *   return [WorkQueue.isWorkQueue(queue), WorkQueue.isWorkQueue({ take: 1 })] // [true, false]
 * })
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isWorkQueue: (u: unknown) => u is WorkQueue<unknown> = internal.isWorkQueue
