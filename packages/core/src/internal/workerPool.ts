/** @internal */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { DeadLetter, Options, Stats, WorkerPool } from "../WorkerPool.ts"
import { WorkerPoolClosedError } from "../WorkerPool.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"
import { CLOSED, EMPTY, QueueCore, validateQueueOptions } from "./workQueue.ts"

const MODULE = "WorkerPool.make"

/** One worker's state: the item it holds (if any) and how many times it has run the handler on it. */
class Worker<A> {
  has = false
  current: A | undefined = undefined
  attempts = 0
  fiber: Fiber.Fiber<void> | undefined = undefined
}

class PoolImpl<A, E, R> implements WorkerPool<A, E> {
  readonly name: string
  readonly queue: QueueCore<A, WorkerPoolClosedError>
  readonly dead: Queue.Queue<DeadLetter<A, E>, Cause.Done>
  readonly handler: (item: A) => Effect.Effect<unknown, E, R>
  readonly retry: Schedule.Schedule<unknown, E, never, R> | undefined
  readonly failures: WorkerPool<A, E>["failures"]
  readonly workers: Array<Worker<A>> = []
  state: Stats["state"] = "open"
  active = 0
  succeeded = 0
  failed = 0
  interrupted = 0
  retried = 0
  /**
   * Counters (acquired = items done, rejected = items failed), when on. The queue reports the gauges under the
   * same name: queue depth, waiting submitters, and in flight (items taken and not settled: the active handlers).
   */
  readonly metrics: Instruments.Instruments | undefined

  constructor(
    name: string,
    queue: QueueCore<A, WorkerPoolClosedError>,
    dead: Queue.Queue<DeadLetter<A, E>, Cause.Done>,
    handler: (item: A) => Effect.Effect<unknown, E, R>,
    retry: Schedule.Schedule<unknown, E, never, R> | undefined,
    metrics: Instruments.Instruments | undefined
  ) {
    this.metrics = metrics
    this.name = name
    this.queue = queue
    this.dead = dead
    this.handler = handler
    this.retry = retry
    this.failures = Stream.fromQueue(dead)
    this.submit = queue.offer
    this.submitAll = queue.offerAll
    this.submitIfAvailable = queue.offerIfAvailable
    queue.onDrop = (items) => {
      for (const item of items) this.cutOff(item, false, 0)
    }
  }

  readonly submit: WorkerPool<A, E>["submit"]
  readonly submitAll: WorkerPool<A, E>["submitAll"]
  readonly submitIfAvailable: WorkerPool<A, E>["submitIfAvailable"]

  get drain(): Effect.Effect<void> {
    return this.queue.join
  }

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    name: this.name,
    state: this.state,
    workers: this.workers.length,
    queued: this.queue.occupied,
    active: this.active,
    waitingSubmitters: this.queue.putters.length + this.queue.reserved,
    submitted: this.queue.offered,
    done: this.succeeded,
    failed: this.failed,
    interrupted: this.interrupted,
    retried: this.retried
  }))

  private publish(letter: DeadLetter<A, E>): void {
    Queue.offerUnsafe(this.dead, letter)
  }

  private cutOff(item: A, started: boolean, attempts: number): void {
    this.interrupted++
    this.publish({ _tag: "Interrupted", item, started, attempts })
  }

  /** Takes the item out of the worker's hands and counts its retries (read `current` and `attempts` first). */
  private release(worker: Worker<A>): void {
    if (worker.attempts > 1) this.retried += worker.attempts - 1
    worker.has = false
    worker.current = undefined
    worker.attempts = 0
    this.active--
  }

  // The three ways an item ends; each runs exactly once per item, then acknowledges it to the queue.

  settleSuccess(worker: Worker<A>): void {
    this.release(worker)
    this.succeeded++
    if (this.metrics !== undefined) this.metrics.addAcquired()
    this.queue.markDone(1)
  }

  settleFailure(worker: Worker<A>, cause: Cause.Cause<E>): void {
    const item = worker.current as A
    const attempts = worker.attempts
    this.release(worker)
    const fail = cause.reasons.find(Cause.isFailReason)
    const die = fail === undefined ? cause.reasons.find(Cause.isDieReason) : undefined
    if (fail !== undefined) {
      this.failed++
      if (this.metrics !== undefined) this.metrics.addRejected()
      this.publish({ _tag: "Failure", item, error: fail.error, attempts, cause })
    } else if (die !== undefined) {
      this.failed++
      if (this.metrics !== undefined) this.metrics.addRejected()
      this.publish({ _tag: "Defect", item, defect: die.defect, attempts, cause })
    } else {
      // the handler interrupted itself
      this.cutOff(item, true, attempts)
    }
    this.queue.markDone(1)
  }

  /** The worker fiber ended while holding an item: it was interrupted by a close past its `closeTimeout`. */
  onWorkerExit(worker: Worker<A>): void {
    if (!worker.has) return
    const item = worker.current as A
    const attempts = worker.attempts
    this.release(worker)
    this.cutOff(item, true, attempts)
    this.queue.markDone(1)
  }

  /**
   * The worker loop. Every piece is built once per worker, so an item costs a synchronous poll plus the handler's
   * own effect; the queue is only waited on when it is empty.
   */
  workerLoop(worker: Worker<A>): Effect.Effect<void, never, R> {
    const queue = this.queue
    const attempt = Effect.suspend(() => {
      worker.attempts++
      return this.handler(worker.current as A)
    })
    const process = this.retry === undefined ? attempt : Effect.retry(attempt, this.retry)
    const onReceive = (item: A) => {
      worker.current = item
      worker.has = true
      this.active++
    }
    // After an item, the next one is polled in the same step (no extra primitive per item).
    const next = (): Effect.Effect<void, never, R> => {
      const item = queue.pollUnsafe()
      if (item === EMPTY) return wait
      if (item === CLOSED) return Effect.void
      onReceive(item)
      return run
    }
    const run: Effect.Effect<void, never, R> = Effect.matchCauseEffect(process, {
      onSuccess: () => {
        this.settleSuccess(worker)
        return next()
      },
      onFailure: (cause) => {
        this.settleFailure(worker, cause)
        return next()
      }
    })
    const wait: Effect.Effect<void, never, R> = Effect.flatMap(
      Effect.exit(queue.takeWith(onReceive)),
      (exit) => Exit.isSuccess(exit) ? run : Effect.void
    )
    const step: Effect.Effect<void, never, R> = Effect.suspend(next)
    return step
  }
}

/**
 * Closes a pool: submits fail at once, the workers drain what is queued and running (within `closeTimeout`), then
 * whatever is left is cut off and reported, and the dead-letter stream ends.
 */
const closePool = <A, E, R>(
  pool: PoolImpl<A, E, R>,
  closeTimeout: Option.Option<Duration.Duration>,
  workerScope: Scope.Closeable
): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (pool.state !== "open") return
    pool.state = "closing"
    pool.queue.shutdownUnsafe(false)
    const fibers = pool.workers.flatMap((w) => (w.fiber === undefined ? [] : [w.fiber]))
    let finished = true
    if (Option.isNone(closeTimeout)) yield* Fiber.awaitAll(fibers)
    else finished = Option.isSome(yield* Effect.timeoutOption(Fiber.awaitAll(fibers), closeTimeout.value))
    if (!finished) {
      // Out of time: drop what is queued (reported through onDrop) and interrupt the workers (their items are
      // reported by onWorkerExit).
      pool.queue.shutdownUnsafe(true)
      yield* Fiber.interruptAll(fibers)
    }
    yield* Scope.close(workerScope, Exit.void)
    pool.state = "closed"
    yield* Queue.end(pool.dead)
  })

const validatePoolOptions = <A, E, R>(options: Options<A, E, R>) =>
  Effect.gen(function*() {
    const workers = yield* Effect.fromResult(InvalidOption.int(MODULE, "workers", options.workers, { min: 1 }))
    // Required here (a queue made on its own defaults to unbounded).
    yield* Effect.fromResult(
      InvalidOption.check(
        MODULE,
        "capacity",
        options.capacity,
        (u) => u !== undefined,
        "an integer >= 1 or \"unbounded\""
      )
    )
    const queueOptions = yield* validateQueueOptions(MODULE, options)
    yield* Effect.fromResult(Result.all([
      InvalidOption.check(
        MODULE,
        "handler",
        options.handler,
        (u) => typeof u === "function",
        "a function from an item to an Effect"
      ),
      InvalidOption.check(
        MODULE,
        "retry",
        options.retry,
        (u) => u === undefined || Schedule.isSchedule(u),
        "a Schedule"
      )
    ]))
    const closeTimeout = options.closeTimeout === undefined
      ? Option.none()
      : Option.some(yield* Effect.fromResult(InvalidOption.duration(MODULE, "closeTimeout", options.closeTimeout)))
    const failuresCapacity = yield* Effect.fromResult(
      InvalidOption.concurrency(MODULE, options.failuresCapacity, "failuresCapacity")
    )
    return { workers, queueOptions, closeTimeout, failuresCapacity }
  })

/** @internal */
export const isWorkerPool = (u: unknown): u is WorkerPool<unknown, unknown> => u instanceof PoolImpl

/** @internal */
export const make = <A, E = never, R = never>(
  options: Options<A, E, R>
): Effect.Effect<WorkerPool<A, E>, InvalidOptionError, Scope.Scope | R> =>
  Effect.flatMap(
    validatePoolOptions(options),
    ({ closeTimeout, failuresCapacity, queueOptions, workers }) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const name = options.name ?? "WorkerPool"
        const metrics = yield* Instruments.make("WorkerPool", options)
        if (metrics !== undefined) metrics.setLimit(workers)
        const queue = new QueueCore<A, WorkerPoolClosedError>(
          name,
          queueOptions.order,
          queueOptions.capacity,
          options.priority,
          () => new WorkerPoolClosedError({ pool: name }),
          metrics,
          false
        )
        const dead = yield* Queue.make<DeadLetter<A, E>, Cause.Done>(
          failuresCapacity === Number.POSITIVE_INFINITY
            ? undefined
            : { capacity: failuresCapacity, strategy: "sliding" }
        )
        const pool = new PoolImpl<A, E, R>(name, queue, dead, options.handler, options.retry, metrics)
        const scope = yield* Scope.Scope
        const workerScope = yield* Scope.make()
        yield* Scope.addFinalizer(scope, closePool(pool, closeTimeout, workerScope))
        for (let i = 0; i < workers; i++) {
          const worker = new Worker<A>()
          pool.workers.push(worker)
          const fiber = yield* Effect.forkIn(pool.workerLoop(worker), workerScope, { startImmediately: true })
          worker.fiber = fiber
          fiber.addObserver(() => pool.onWorkerExit(worker))
        }
        return Registry.trackUnsafe("WorkerPool", options, yield* Effect.context<never>(), pool as WorkerPool<A, E>)
      }))
  )
