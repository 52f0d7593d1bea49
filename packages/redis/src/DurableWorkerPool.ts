/**
 * A durable, fleet-wide `WorkerPool`: core's `WorkerPool` runs the handlers, fed from Effect's `PersistedQueue`
 * (at-least-once, retries, dead letters) instead of an in-memory queue, so an item submitted by any process is
 * processed by any process, survives restarts, and is delivered again elsewhere when the worker that held it dies.
 * It is what Celery or RQ workers over Redis give Python, with core's WorkerPool semantics: a fixed number of
 * local workers, per-item outcomes, failures after the last attempt on a dead-letter stream, `drain`, graceful
 * close within `closeTimeout`, `stats`.
 *
 * The store is a Layer: {@link layerRedis} (fleet-wide, Effect's `PersistedQueue.layerStoreRedis`) or
 * {@link layerMemory} (in-process, volatile, Effect's `layerStoreMemory`): the same program runs either way.
 *
 * @see `effect/persistence/PersistedQueue` (the queue, its stores and its delivery guarantee)
 * @see `WorkerPool` in `@async-ops/core` (the local workers)
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { DeadLetter as CoreDeadLetter, WorkerPoolClosedError } from "@async-ops/core/WorkerPool"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as PersistedQueue from "effect/persistence/PersistedQueue"
import type * as Redis from "effect/persistence/Redis"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/durableWorkerPool.ts"

/**
 * What the handler learns about the delivery: the item's id in the queue and which attempt this is (from 1,
 * counted fleet-wide: an attempt cut short by a dead process counts too).
 *
 * @category models
 * @since 0.1.0
 */
export interface Delivery {
  readonly id: string
  readonly attempts: number
}

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<S extends Schema.Constraint, E, R> {
  /** The queue's name, shared by every process that submits to or works on it: a non-empty string. */
  readonly name: string
  /** The items' schema: items are stored JSON-encoded through it and decoded before the handler runs. */
  readonly schema: S
  /** How many items this process works on at once (and at most holds): an integer >= 1. */
  readonly workers: number
  /**
   * Processes one item; its value is discarded. Delivery is at least once (a worker that dies after the handler
   * succeeded but before the acknowledgement causes a second delivery), so make it idempotent, e.g. with the id.
   */
  readonly handler: (item: S["Type"], delivery: Delivery) => Effect.Effect<unknown, E, R>
  /**
   * How many times an item is tried, fleet-wide, before it is a dead letter: an integer >= 1. Default 1 (no
   * retry, as core's WorkerPool without `retry`).
   */
  readonly maxAttempts?: number | undefined
  /**
   * The delay before a failed item is visible again, as a Schedule of the attempt number (Effect's
   * `PersistedQueue` replays it up to the attempt, so it holds across processes). Default: exponential from
   * 1 second, capped at 5 minutes. Unlike core's WorkerPool, the worker does not hold the item meanwhile.
   */
  readonly retrySchedule?: Schedule.Schedule<any, number> | undefined
  /**
   * How long closing the pool may wait for the items its workers hold: a duration >= 0. Past it, the handlers
   * are interrupted and their items handed back to the queue (not counted as an attempt) for another process.
   * Default: no limit.
   */
  readonly closeTimeout?: Duration.Input | undefined
  /**
   * How many local dead letters `failures` keeps until read: an integer >= 1 (the oldest are dropped past it) or
   * `"unbounded"` (the default).
   */
  readonly failuresCapacity?: number | "unbounded" | undefined
}

/**
 * A local dead letter: an item whose last attempt failed in this process (`Failure`: a typed error; `Defect`:
 * the handler died). Core's `WorkerPool.DeadLetter` shape; `attempts` is the fleet-wide count.
 *
 * @category models
 * @since 0.1.0
 */
export type DeadLetter<A, E> = Exclude<CoreDeadLetter<A, E>, { readonly _tag: "Interrupted" }>

/**
 * A dead letter as the Redis store keeps it (fleet-wide, durable), read by {@link deadLetters}.
 *
 * @category models
 * @since 0.1.0
 */
export interface StoredDeadLetter<A> {
  readonly id: string
  readonly item: A
  readonly attempts: number
  /** The last failure, pretty-printed (`Cause.pretty`). */
  readonly lastFailure: string
  /** When it failed, epoch milliseconds of the failing process's clock. */
  readonly failedAt: number
}

/**
 * A snapshot of the pool's counters in this process.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /** `open`; `closing` (no new items taken, the held ones finishing); `closed`. */
  readonly state: "open" | "closing" | "closed"
  readonly workers: number
  /** Items a local worker is processing now. */
  readonly active: number
  /** Items submitted from this process. */
  readonly submitted: number
  /** Deliveries this process took from the queue. */
  readonly taken: number
  /** Items whose handler succeeded here. */
  readonly done: number
  /** Items whose last attempt failed here (published on `failures`). */
  readonly failed: number
  /** Attempts that failed here and went back to the queue for a retry. */
  readonly retried: number
  /** Items handed back to the queue uncounted, because the pool closed past `closeTimeout`. */
  readonly handedBack: number
}

/**
 * A running durable worker pool.
 *
 * @category models
 * @since 0.1.0
 */
export interface DurableWorkerPool<A, E> {
  readonly name: string
  /**
   * Stores an item in the queue (any process's workers may take it) and returns its id. With `id`, an item whose
   * id is already stored is not added again (an idempotency key); `delay` postpones its first delivery.
   */
  readonly submit: (
    item: A,
    options?: { readonly id?: string | undefined; readonly delay?: Duration.Input | undefined }
  ) => Effect.Effect<string, PersistedQueue.PersistedQueueError | Schema.SchemaError | WorkerPoolClosedError>
  /** Submits several items in order; returns their ids. */
  readonly submitAll: (
    items: Iterable<A>
  ) => Effect.Effect<
    ReadonlyArray<string>,
    PersistedQueue.PersistedQueueError | Schema.SchemaError | WorkerPoolClosedError
  >
  /**
   * The local dead-letter stream: items whose last attempt failed in this process, once each, in order. It ends
   * when the pool has closed. The fleet-wide record is in the store ({@link deadLetters} for Redis).
   */
  readonly failures: Stream.Stream<DeadLetter<A, E>>
  /**
   * Waits until every item this process's workers have taken so far has its outcome. Items still in the queue,
   * or held by other processes, are not waited for (count completions in the store to know the fleet is done).
   */
  readonly drain: Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
}

/**
 * Starts `workers` local workers on the durable queue `name`, tied to the current scope. Closing the scope stops
 * taking new items, lets the held ones finish within `closeTimeout` (past it they go back to the queue, uncounted,
 * for another process), and ends `failures`.
 *
 * **When to use**: jobs that must outlive the process that submitted them, or spread over replicas (emails,
 * webhooks, exports). For in-process work with backpressure, core's `WorkerPool` is lighter.
 *
 * **Gotchas**:
 * - At least once: a dead worker's items are delivered again after the store's lock expires (`lockExpiration` of
 *   {@link layerRedis}); an item can be processed twice, at most once per worker that died holding it.
 * - A process holds at most `workers` items (Effect's Redis store claims one per waiting worker).
 * - Items are JSON through `schema`; a stored item that no longer decodes is a dead letter at once.
 * - Fails with `InvalidOptionError` for an empty `name`, `workers` or `maxAttempts` below 1, a missing `handler`
 *   or `schema`, a negative `closeTimeout`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DurableWorkerPool } from "@async-ops/redis"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* DurableWorkerPool.make({
 *     name: "emails",
 *     schema: Schema.Struct({ to: Schema.String }),
 *     workers: 4,
 *     maxAttempts: 3,
 *     handler: ({ to }) => Effect.log(`send to ${to}`)
 *   })
 *   yield* pool.submit({ to: "ada@example.com" })
 * })).pipe(Effect.provide(DurableWorkerPool.layerMemory)) // or layerRedis() over RedisConnection.layer
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <S extends Schema.Constraint, E = never, R = never>(
  options: Options<S, E, R>
) => Effect.Effect<
  DurableWorkerPool<S["Type"], E>,
  InvalidOptionError,
  Scope.Scope | R | PersistedQueue.PersistedQueueFactory | S["EncodingServices"] | S["DecodingServices"]
> = internal.make

/**
 * A handle that only submits to the durable queue `name` (no local workers): for the processes that produce work
 * (a web server enqueueing jobs) while worker processes run {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Producer<A> {
  readonly name: string
  readonly submit: DurableWorkerPool<A, never>["submit"]
  readonly submitAll: DurableWorkerPool<A, never>["submitAll"]
}

/**
 * Opens the durable queue `name` for submitting only.
 *
 * **When to use**: a process that enqueues work for a fleet of workers and runs none itself.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DurableWorkerPool } from "@async-ops/redis"
 *
 * const program = Effect.gen(function*() {
 *   const emails = yield* DurableWorkerPool.producer({ name: "emails", schema: Schema.Struct({ to: Schema.String }) })
 *   yield* emails.submit({ to: "ada@example.com" }, { id: "welcome:ada" }) // idempotent by id
 * }).pipe(Effect.provide(DurableWorkerPool.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const producer: <S extends Schema.Constraint>(options: {
  readonly name: string
  readonly schema: S
}) => Effect.Effect<
  Producer<S["Type"]>,
  InvalidOptionError,
  PersistedQueue.PersistedQueueFactory | S["EncodingServices"] | S["DecodingServices"]
> = internal.producer

/**
 * Effect's `PersistedQueue` on Redis (`PersistedQueue.layer` over `PersistedQueue.layerStoreRedis`): queues
 * shared by every process on the same Redis. `lockExpiration` (default 90 s) is how long a dead worker's items
 * stay claimed before they are delivered again; the store refreshes live claims every `lockRefreshInterval`
 * (default 30 s) and checks for expired ones as often.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { DurableWorkerPool, RedisConnection } from "@async-ops/redis"
 *
 * const Queues = DurableWorkerPool.layerRedis({ lockExpiration: "30 seconds", lockRefreshInterval: "10 seconds" }).pipe(
 *   Layer.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis: (options?: {
  readonly prefix?: string | undefined
  readonly pollInterval?: Duration.Input | undefined
  readonly lockRefreshInterval?: Duration.Input | undefined
  readonly lockExpiration?: Duration.Input | undefined
}) => Layer.Layer<PersistedQueue.PersistedQueueFactory, never, Redis.Redis> = internal.layerRedis

/**
 * Effect's `PersistedQueue` in memory (`PersistedQueue.layer` over `layerStoreMemory`): one process, nothing
 * survives it. For tests and single-process runs of code written for {@link layerRedis}.
 *
 * @example
 * ```ts
 * import { DurableWorkerPool } from "@async-ops/redis"
 *
 * const Queues = DurableWorkerPool.layerMemory
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<PersistedQueue.PersistedQueueFactory> = internal.layerMemory

/**
 * Reads the fleet-wide dead letters of queue `name` from the Redis store (oldest first, at most `limit`,
 * default 1000), decoded with `schema`.
 *
 * **Gotchas**: reads the failed list of Effect 4.1's `PersistedQueue.layerStoreRedis` (`<prefix><name>:failed`);
 * `prefix` must match the one given to {@link layerRedis} (default `"effectq:"`). `PersistedQueue.layerCleanup`
 * with `failedTimeToLive` trims it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DurableWorkerPool } from "@async-ops/redis"
 *
 * const letters = DurableWorkerPool.deadLetters({ name: "emails", schema: Schema.Struct({ to: Schema.String }) })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const deadLetters: <S extends Schema.Constraint>(options: {
  readonly name: string
  readonly schema: S
  readonly prefix?: string | undefined
  readonly limit?: number | undefined
}) => Effect.Effect<
  ReadonlyArray<StoredDeadLetter<S["Type"]>>,
  Redis.RedisError | Schema.SchemaError,
  Redis.Redis | S["DecodingServices"]
> = internal.deadLetters
