/** @internal */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { pipeArguments } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import type { Batcher, Options, Stats } from "../Batcher.ts"
import { BatcherClosedError, BatchKeyNotFoundError } from "../Batcher.ts"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import * as Metrics from "./metrics.ts"
import type { Node } from "./waitList.ts"
import { WaitList } from "./waitList.ts"

const MODULE = "Batcher.make"

type Outcome = Exit.Exit<unknown, unknown>

/** One `get` waiting for its batch. */
class Caller {
  readonly key: unknown
  readonly batch: Batch
  readonly resume: (outcome: Outcome) => void
  node: Node<Caller> | undefined = undefined
  /** Answered, interrupted, or refused at close: it no longer counts as waiting. */
  done = false

  constructor(key: unknown, batch: Batch, resume: (outcome: Outcome) => void) {
    this.key = key
    this.batch = batch
    this.resume = resume
  }
}

class Batch {
  /** `collecting` until full or due, `running` while its lookup runs, then `done`. */
  state: "collecting" | "running" | "done" = "collecting"
  /** Every caller still waiting for this batch, O(1) removal when one is interrupted. */
  readonly callers = new WaitList<Caller>()
  /** The distinct keys and how many waiting callers want each: callers of one key share one lookup entry. */
  readonly keys = new Map<unknown, number>()
  timer: Fiber.Fiber<unknown, unknown> | undefined = undefined
  lookup: Fiber.Fiber<unknown, unknown> | undefined = undefined
}

/**
 * Collects `get`s into batches of distinct keys; a batch is dispatched when it holds `maxBatchSize` distinct keys
 * (at once, by the get that filled it) or `maxDelay` after its first get (by its timer fiber, which then runs the
 * lookup itself).
 *
 * A `get` is one `Effect.callback` whose registration does all the bookkeeping and whose cleanup (run only if the
 * caller is interrupted while waiting) takes it out of its batch, as Effect's `Effect.request` does. A finished
 * lookup answers its callers synchronously, after the batch's state is final (like `Deferred`). Timer and lookup
 * fibers are forked with the context of the get that needed them, tracked, and interrupted (and awaited) when the
 * batcher's scope closes, after every waiting caller has been answered with `BatcherClosedError`.
 */
class BatcherImpl<K, V, E> implements Batcher<K, V, E> {
  readonly name: string
  readonly maxBatchSize: number
  private readonly delay: Effect.Effect<void>
  private readonly lookupFn: (keys: ReadonlyArray<K>) => Effect.Effect<unknown, E>
  private readonly context: Context.Context<never>
  private readonly instruments: Metrics.Instruments | undefined
  private readonly closedOutcome: Outcome
  private closed = false
  private open: Batch | undefined = undefined
  /** Batches collecting or running, for `close`. */
  private readonly active = new Set<Batch>()
  /** Timer and lookup fibers alive, for `close`. */
  private readonly fibers = new Set<Fiber.Fiber<unknown, unknown>>()
  private gets = 0
  private batches = 0
  private keys = 0
  private deduplicated = 0
  private waiting = 0
  private inFlight = 0

  constructor(
    name: string,
    maxBatchSize: number,
    maxDelay: Duration.Duration,
    lookup: (keys: ReadonlyArray<K>) => Effect.Effect<unknown, E>,
    context: Context.Context<never>,
    instruments: Metrics.Instruments | undefined
  ) {
    this.name = name
    this.maxBatchSize = maxBatchSize
    this.delay = Duration.isZero(maxDelay) ? Effect.yieldNow : Effect.sleep(maxDelay)
    this.lookupFn = lookup
    this.context = context
    this.instruments = instruments
    this.closedOutcome = Exit.fail(new BatcherClosedError({ name }))
  }

  private setWaiting(delta: number): void {
    this.waiting += delta
    this.instruments?.setWaiting(this.waiting)
  }

  private setCollecting(): void {
    this.instruments?.setQueueDepth(this.open === undefined ? 0 : this.open.keys.size)
  }

  private fork(effect: Effect.Effect<void>, context: Context.Context<never>): Fiber.Fiber<unknown, unknown> {
    const fiber = Effect.runForkWith(context)(effect)
    this.fibers.add(fiber)
    fiber.addObserver(() => this.fibers.delete(fiber))
    return fiber
  }

  /** Closes collection: the batch's keys are fixed from here on. */
  private dispatch(batch: Batch): void {
    batch.state = "running"
    if (this.open === batch) this.open = undefined
    this.batches++
    this.keys += batch.keys.size
    this.inFlight++
    this.instruments?.setInFlight(this.inFlight)
    this.setCollecting()
  }

  /** The batch is over (its lookup ended, or it was dropped before one). */
  private settle(batch: Batch): void {
    if (batch.state === "running") {
      this.inFlight--
      this.instruments?.setInFlight(this.inFlight)
    }
    batch.state = "done"
    this.active.delete(batch)
  }

  /** Takes every waiting caller out of `batch` (they are answered by the caller of this). */
  private takeCallers(batch: Batch): Array<Caller> {
    const callers = batch.callers.drain()
    for (const caller of callers) {
      caller.done = true
      caller.node = undefined
    }
    if (callers.length > 0) this.setWaiting(-callers.length)
    return callers
  }

  private finish(batch: Batch, exit: Exit.Exit<unknown, E>): void {
    if (batch.state !== "running") return
    const callers = this.takeCallers(batch)
    this.settle(batch)
    if (exit._tag === "Failure") {
      for (const caller of callers) caller.resume(exit)
      return
    }
    const value = exit.value as ReadonlyMap<unknown, unknown> | ReadonlyArray<readonly [unknown, unknown]>
    const results: ReadonlyMap<unknown, unknown> = value instanceof Map
      ? value
      : new Map(value as ReadonlyArray<readonly [unknown, unknown]>)
    let missing: Map<unknown, Outcome> | undefined
    for (const caller of callers) {
      if (results.has(caller.key)) {
        caller.resume(Exit.succeed(results.get(caller.key)))
        continue
      }
      missing ??= new Map()
      let outcome = missing.get(caller.key)
      if (outcome === undefined) {
        outcome = Exit.fail(new BatchKeyNotFoundError({ name: this.name, key: caller.key }))
        missing.set(caller.key, outcome)
      }
      caller.resume(outcome)
    }
  }

  private lookup(batch: Batch): Effect.Effect<void> {
    return Effect.suspend(() => {
      // Every caller left before this fiber started.
      if (batch.state !== "running" || batch.callers.length === 0) return Effect.void
      const keys = Array.from(batch.keys.keys()) as Array<K>
      return this.lookupFn(keys).pipe(
        Effect.provideContext(this.context),
        Effect.exit,
        Effect.flatMap((exit) => Effect.sync(() => this.finish(batch, exit)))
      )
    })
  }

  private startTimer(batch: Batch, context: Context.Context<never>): void {
    const timer = this.fork(
      Effect.flatMap(this.delay, () =>
        Effect.withFiber((fiber) => {
          if (batch.state !== "collecting") return Effect.void
          this.dispatch(batch)
          batch.lookup = fiber
          return this.lookup(batch)
        })),
      context
    )
    batch.timer = timer
    timer.addObserver(() => {
      if (batch.lookup === timer) this.settle(batch)
    })
  }

  private startLookup(batch: Batch, context: Context.Context<never>): void {
    this.dispatch(batch)
    batch.timer?.interruptUnsafe()
    // The lookup fiber starts at once (runs until it first suspends), as Effect's RequestResolver does: the batch's
    // state is final by now, and a lookup that completes synchronously frees its callers before more pile up
    // (measured: deferring it to the next scheduler turn made 100k gets 4x slower).
    const lookup = this.fork(this.lookup(batch), context)
    batch.lookup = lookup
    lookup.addObserver(() => this.settle(batch))
  }

  /** A waiting caller was interrupted: take it out of its batch. */
  private leave(caller: Caller): void {
    if (caller.done) return
    caller.done = true
    this.setWaiting(-1)
    const batch = caller.batch
    if (caller.node !== undefined) batch.callers.remove(caller.node)
    caller.node = undefined
    if (batch.state === "collecting") {
      // Not looked up yet: drop its key if nobody else wants it, and the whole batch if it is empty.
      const count = batch.keys.get(caller.key)!
      if (count <= 1) batch.keys.delete(caller.key)
      else batch.keys.set(caller.key, count - 1)
      if (batch.callers.length === 0) {
        if (this.open === batch) this.open = undefined
        this.settle(batch)
        batch.timer?.interruptUnsafe()
      }
      this.setCollecting()
    } else if (batch.state === "running" && batch.callers.length === 0) {
      // Nobody wants the result any more.
      batch.lookup?.interruptUnsafe()
    }
  }

  private register(key: K, resume: (outcome: Outcome) => void): Effect.Effect<void> | undefined {
    if (this.closed) {
      this.instruments?.addRejected()
      resume(this.closedOutcome)
      return undefined
    }
    this.gets++
    let batch = this.open
    const fresh = batch === undefined
    if (batch === undefined) {
      batch = new Batch()
      this.open = batch
      this.active.add(batch)
    }
    const count = batch.keys.get(key)
    if (count === undefined) {
      batch.keys.set(key, 1)
    } else {
      batch.keys.set(key, count + 1)
      this.deduplicated++
    }
    const caller = new Caller(key, batch, resume)
    caller.node = batch.callers.push(caller)
    this.setWaiting(1)
    this.setCollecting()
    const context = Fiber.getCurrent()!.context
    if (batch.keys.size >= this.maxBatchSize) this.startLookup(batch, context)
    else if (fresh) this.startTimer(batch, context)
    return Effect.sync(() => this.leave(caller))
  }

  readonly get = (key: K): Effect.Effect<V, E | BatchKeyNotFoundError | BatcherClosedError> =>
    Effect.callback<V, E | BatchKeyNotFoundError | BatcherClosedError>((resume) =>
      this.register(key, resume as (outcome: Outcome) => void)
    )

  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    this.open = undefined
    const refused: Array<Caller> = []
    for (const batch of this.active) {
      refused.push(...this.takeCallers(batch))
      if (batch.state === "collecting") this.settle(batch)
    }
    this.setCollecting()
    for (const caller of refused) caller.resume(this.closedOutcome)
    return Fiber.interruptAll(Array.from(this.fibers))
  })

  pipe() {
    return pipeArguments(this, arguments)
  }

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    name: this.name,
    gets: this.gets,
    batches: this.batches,
    keys: this.keys,
    deduplicated: this.deduplicated,
    meanBatchSize: this.batches === 0 ? 0 : this.keys / this.batches,
    waiting: this.waiting,
    inFlight: this.inFlight,
    collecting: this.open === undefined ? 0 : this.open.keys.size
  }))
}

/** @internal */
export const isBatcher = (u: unknown): u is Batcher<unknown, unknown, unknown> => u instanceof BatcherImpl

/** @internal */
export const make = <K, V, E, R>(
  options: Options<K, V, E, R>
): Effect.Effect<Batcher<K, V, E>, InvalidOptionError, R | Scope.Scope> =>
  Effect.gen(function*() {
    const maxBatchSize = options.maxBatchSize
    yield* Effect.fromResult(InvalidOption.int(MODULE, "maxBatchSize", maxBatchSize, { min: 1 }))
    const maxDelay = yield* Effect.fromResult(
      InvalidOption.duration(MODULE, "maxDelay", options.maxDelay, { finite: true })
    )
    yield* Effect.fromResult(
      InvalidOption.check(
        MODULE,
        "lookup",
        options.lookup,
        (u) => typeof u === "function",
        "a function from keys to an Effect"
      )
    )
    const instruments = yield* Metrics.make("Batcher", options)
    const context = yield* Effect.context<R>()
    const impl = new BatcherImpl<K, V, E>(
      options.name ?? "Batcher",
      maxBatchSize,
      maxDelay,
      // Its services come from `context`, provided around each call.
      options.lookup as (keys: ReadonlyArray<K>) => Effect.Effect<unknown, E>,
      context as Context.Context<never>,
      instruments
    )
    yield* Effect.addFinalizer(() => impl.close)
    return impl
  })
