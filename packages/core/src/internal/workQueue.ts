/** @internal */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { Options, Order, Stats, WorkQueue } from "../WorkQueue.ts"
import { eager } from "./eager.ts"
import * as Instruments from "./metrics.ts"
import * as QueueBuffer from "./queueBuffer.ts"
import * as Registry from "./registry.ts"
import type { Node } from "./waitList.ts"
import { WaitList } from "./waitList.ts"

/**
 * The queue was shut down: raised by producers at once, and by consumers once nothing is left to take. Python's
 * `asyncio.QueueShutDown`.
 *
 * @category errors
 * @since 0.1.0
 */
export class QueueShutdownError extends Data.TaggedError("QueueShutdownError")<{
  readonly queue: string
}> {
  override get message(): string {
    return `WorkQueue "${this.queue}" is shut down`
  }
}

/**
 * `taskDone` was called more times than items were taken (Python raises `ValueError`).
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskDoneError extends Data.TaggedError("TaskDoneError")<{
  readonly queue: string
  /** How many items the call tried to mark done. */
  readonly count: number
  /** How many items were taken and not yet marked done. */
  readonly inFlight: number
}> {
  override get message(): string {
    return `WorkQueue "${this.queue}": taskDone for ${this.count} item(s) but only ${this.inFlight} taken and not done`
  }
}

// -------------------------------------------------------------------------------------------------------------------
// Waiters
// -------------------------------------------------------------------------------------------------------------------

const WAITING = 0
const GRANTED = 1
const ENDED = 2

interface Taker<A, E> {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly min: number
  readonly max: number
  resume: (effect: Effect.Effect<Array<A>, E>) => void
  node: Node<Taker<A, E>> | undefined
  state: number
  items: Array<A> | undefined
  readonly onReceive: ((items: Array<A>) => void) | undefined
}

interface Putter<A, E> {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly item: A
  resume: (effect: Effect.Effect<void, E>) => void
  node: Node<Putter<A, E>> | undefined
  state: number
}

interface Joiner {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly resume: (effect: Effect.Effect<void>) => void
}

/** What a synchronous poll found instead of an item. @internal */
export const EMPTY: unique symbol = Symbol.for("@async-ops/core/WorkQueue/empty")
/** @internal */
export const CLOSED: unique symbol = Symbol.for("@async-ops/core/WorkQueue/closed")

const OFFERED = 0
const FULL = 1
const SHUT = 2

/**
 * The queue's engine, generic in the error that operations fail with once the queue is shut down, so that
 * WorkerPool can reuse it with its own error at no cost.
 *
 * Wake-ups never run the woken fiber inline: they are scheduled on the woken fiber's dispatcher (as
 * `Effect.yieldNow` would), so a producer keeps filling the buffer and consumers drain it in bursts, as with asyncio's
 * `call_soon`, and no foreign fiber ever runs in the middle of a state change. An item (or a free slot) is assigned
 * to a waiter when it is woken; if the waiter is interrupted before it runs, its cleanup gives the item back to the
 * front of the queue (or the slot to the next producer), so nothing is lost or duplicated.
 *
 * @internal
 */
export class QueueCore<A, E> {
  readonly name: string
  readonly order: Order
  readonly capacity: number
  readonly buffer: QueueBuffer.Buffer<A>
  private readonly makeError: () => E
  readonly takers = new WaitList<Taker<A, E>>()
  readonly putters = new WaitList<Putter<A, E>>()
  readonly joiners = new WaitList<Joiner>()
  state: "open" | "shutdown" = "open"
  immediate = false
  /** Items assigned to woken takers that have not run yet: still counted in `size` and against `capacity`. */
  grantedPending = 0
  /** Slots assigned to woken producers that have not run yet. */
  reserved = 0
  /** Items delivered to takers and not yet marked done. */
  inFlight = 0
  offered = 0
  taken = 0
  done = 0
  dropped = 0
  /** Called with items the queue throws away (immediate shutdown), so an owner can report them. */
  onDrop: ((items: Array<A>) => void) | undefined = undefined
  /** Gauges (queue depth, waiting, in flight), when on; see `report`. */
  readonly metrics: Instruments.Instruments | undefined
  /** Counters (acquired = items taken, rejected = `offerIfAvailable` refusals): a WorkerPool counts its own. */
  readonly counters: Instruments.Instruments | undefined
  /** A queue of its own (not a WorkerPool's, whose waiting takers are its idle workers, not callers waiting). */
  private readonly standalone: boolean

  constructor(
    name: string,
    order: Order,
    capacity: number,
    priority: ((item: A) => number) | undefined,
    makeError: () => E,
    metrics: Instruments.Instruments | undefined,
    standalone: boolean
  ) {
    this.name = name
    this.order = order
    this.capacity = capacity
    this.makeError = makeError
    this.metrics = metrics
    this.standalone = standalone
    this.counters = standalone ? metrics : undefined
    this.buffer = QueueBuffer.make(order, capacity, priority)
    if (metrics !== undefined) this.report(metrics)
  }

  get occupied(): number {
    return this.buffer.length + this.grantedPending
  }

  get unfinished(): number {
    return this.buffer.length + this.grantedPending + this.inFlight
  }

  /**
   * Sets the gauges from the state: queue depth = `size` (items queued, including those handed to a woken taker
   * that has not run yet), waiting = producers waiting (as in `stats`) plus, for a queue of its own, consumers
   * waiting, in flight = taken, not done. Called after each change while metrics are on.
   */
  report(metrics: Instruments.Instruments): void {
    metrics.setQueueDepth(this.occupied)
    metrics.setWaiting((this.standalone ? this.takers.length : 0) + this.putters.length + this.reserved)
    metrics.setInFlight(this.inFlight)
  }

  /** `n` items were handed to consumers (metrics on). */
  private tookN(metrics: Instruments.Instruments, n: number): void {
    this.report(metrics)
    if (this.counters !== undefined) this.counters.addAcquired(n)
  }

  private fail(): Effect.Effect<never, E> {
    return Exit.fail(this.makeError())
  }

  // ---------------------------------------------------------------------------------------------------- wake-ups

  private static wake<X>(fiber: Fiber.Fiber<unknown, unknown>, resume: (effect: X) => void, effect: X): void {
    fiber.currentDispatcher.scheduleTask(() => resume(effect), 0)
  }

  private grantTaker(taker: Taker<A, E>): void {
    const items = this.buffer.take(taker.max)
    taker.items = items
    taker.state = GRANTED
    taker.node = undefined
    this.grantedPending += items.length
    QueueCore.wake(taker.fiber, taker.resume, Effect.suspend(() => this.receive(taker)))
  }

  /** Runs in the woken taker's fiber: the item becomes the taker's in the same step as it learns of it. */
  private receive(taker: Taker<A, E>): Effect.Effect<Array<A>, E> {
    const items = taker.items!
    taker.state = ENDED
    // Items that arrived since the grant and that no other taker was waiting for join the batch.
    const room = taker.max - items.length
    if (room > 0 && this.buffer.length > 0) {
      const more = this.buffer.take(room)
      for (let i = 0; i < more.length; i++) items.push(more[i] as A)
      this.grantedPending += more.length
    }
    const n = items.length
    this.grantedPending -= n
    this.inFlight += n
    this.taken += n
    taker.onReceive?.(items)
    if (this.putters.length > 0) this.releaseCapacity()
    if (this.metrics !== undefined) this.tookN(this.metrics, n)
    return Exit.succeed(items)
  }

  /** Gives buffered items to waiting takers, FIFO among the takers that can be served. */
  private dispatch(): void {
    const takers = this.takers
    const buffer = this.buffer
    const closing = this.state !== "open"
    while (buffer.length > 0 && takers.length > 0) {
      const head = takers.peek()!
      if (closing || buffer.length >= head.min) {
        takers.shift()
        this.grantTaker(head)
        continue
      }
      // The head waits for more items than there are: serve the takers behind it that can be served.
      const served: Array<Taker<A, E>> = []
      for (const taker of takers) {
        if (buffer.length === 0) break
        if (buffer.length >= taker.min) served.push(taker)
      }
      for (const taker of served) {
        if (buffer.length === 0) break
        takers.remove(taker.node!)
        this.grantTaker(taker)
      }
      break
    }
  }

  /** Gives free slots to waiting producers, FIFO. */
  private releaseCapacity(): void {
    const putters = this.putters
    while (putters.length > 0 && this.occupied + this.reserved < this.capacity) {
      const putter = putters.shift()!
      putter.node = undefined
      putter.state = GRANTED
      this.reserved++
      QueueCore.wake(putter.fiber, putter.resume, Effect.suspend(() => this.putterReceive(putter)))
    }
  }

  private putterReceive(putter: Putter<A, E>): Effect.Effect<void, E> {
    putter.state = ENDED
    this.reserved--
    if (this.state !== "open") {
      if (this.metrics !== undefined) this.report(this.metrics)
      return this.fail()
    }
    this.enqueue(putter.item)
    return Effect.void
  }

  private checkJoin(): void {
    if (this.joiners.length > 0 && this.unfinished === 0) {
      for (const joiner of this.joiners.drain()) QueueCore.wake(joiner.fiber, joiner.resume, Effect.void)
    }
  }

  // ---------------------------------------------------------------------------------------------------- offers

  private enqueue(item: A): void {
    this.offered++
    this.buffer.push(item)
    if (this.takers.length > 0) this.dispatch()
    if (this.metrics !== undefined) this.report(this.metrics)
  }

  /** Offers without waiting: OFFERED, FULL or SHUT. */
  tryOffer(item: A): number {
    if (this.state !== "open") return SHUT
    if (this.buffer.length + this.grantedPending + this.reserved >= this.capacity) return FULL
    this.enqueue(item)
    return OFFERED
  }

  private waitPut(item: A): Effect.Effect<void, E> {
    return Effect.withFiber((fiber) =>
      Effect.callback<void, E>((resume) => {
        const putter: Putter<A, E> = { fiber, item, resume, node: undefined, state: WAITING }
        putter.node = this.putters.push(putter)
        if (this.metrics !== undefined) this.report(this.metrics)
        return Effect.sync(() => this.cancelPutter(putter))
      })
    )
  }

  private cancelPutter(putter: Putter<A, E>): void {
    if (putter.state === WAITING) {
      this.putters.remove(putter.node!)
    } else if (putter.state === GRANTED) {
      // Woken but interrupted before it ran: the item was never enqueued; pass the slot on.
      this.reserved--
      this.releaseCapacity()
    }
    putter.state = ENDED
    if (this.metrics !== undefined) this.report(this.metrics)
  }

  readonly offer = (item: A): Effect.Effect<void, E> => {
    return eager(() => {
      const r = this.tryOffer(item)
      return r === OFFERED ? Effect.void : r === SHUT ? this.fail() : this.waitPut(item)
    })
  }

  readonly offerAll = (items: Iterable<A>): Effect.Effect<void, E> => {
    return Effect.suspend(() => {
      const all = Array.from(items)
      let i = 0
      const loop: Effect.Effect<void, E> = Effect.suspend(() => {
        while (i < all.length) {
          const item = all[i] as A
          const r = this.tryOffer(item)
          if (r === OFFERED) {
            i++
          } else if (r === SHUT) {
            return this.fail()
          } else {
            i++
            return Effect.flatMap(this.waitPut(item), () => loop)
          }
        }
        return Effect.void
      })
      return loop
    })
  }

  readonly offerIfAvailable = (item: A): Effect.Effect<boolean, E> => {
    return eager(() => {
      const r = this.tryOffer(item)
      if (r === FULL && this.counters !== undefined) this.counters.addRejected()
      return r === OFFERED ? Exit.succeed(true) : r === SHUT ? this.fail() : Exit.succeed(false)
    })
  }

  // ---------------------------------------------------------------------------------------------------- takes

  /** Takes one item without waiting, or tells why not. */
  pollUnsafe(): A | typeof EMPTY | typeof CLOSED {
    const buffer = this.buffer
    if (buffer.length > 0) {
      const item = buffer.shift()
      this.inFlight++
      this.taken++
      if (this.putters.length > 0) this.releaseCapacity()
      if (this.metrics !== undefined) this.tookN(this.metrics, 1)
      return item
    }
    return this.state === "open" ? EMPTY : CLOSED
  }

  /** Takes between `min` and `max` items without waiting, or `undefined` (must wait) or `CLOSED`. */
  private tryTakeBetween(min: number, max: number): Array<A> | undefined | typeof CLOSED {
    const buffer = this.buffer
    const length = buffer.length
    if (length === 0) return this.state === "open" ? undefined : CLOSED
    if (length < min && this.state === "open") return undefined
    const items = buffer.take(max)
    this.inFlight += items.length
    this.taken += items.length
    if (this.putters.length > 0) this.releaseCapacity()
    if (this.metrics !== undefined) this.tookN(this.metrics, items.length)
    return items
  }

  private waitTake(
    min: number,
    max: number,
    onReceive: ((items: Array<A>) => void) | undefined
  ): Effect.Effect<Array<A>, E> {
    return Effect.withFiber((fiber) =>
      Effect.callback<Array<A>, E>((resume) => {
        const taker: Taker<A, E> = {
          fiber,
          min,
          max,
          resume,
          node: undefined,
          state: WAITING,
          items: undefined,
          onReceive
        }
        taker.node = this.takers.push(taker)
        if (this.metrics !== undefined) this.report(this.metrics)
        return Effect.sync(() => this.cancelTaker(taker))
      })
    )
  }

  private cancelTaker(taker: Taker<A, E>): void {
    if (taker.state === WAITING) {
      this.takers.remove(taker.node!)
    } else if (taker.state === GRANTED) {
      // Woken but interrupted before it ran: the items go back to the front, or to the next taker.
      const items = taker.items!
      taker.items = undefined
      this.grantedPending -= items.length
      if (this.immediate) {
        this.dropped += items.length
        this.onDrop?.(items)
        if (this.putters.length > 0) this.releaseCapacity()
        this.checkJoin()
      } else {
        this.buffer.restore(items)
        if (this.takers.length > 0) this.dispatch()
      }
    }
    taker.state = ENDED
    if (this.metrics !== undefined) this.report(this.metrics)
  }

  readonly take: Effect.Effect<A, E> = eager(() => {
    const item = this.pollUnsafe()
    if (item === EMPTY) return Effect.map(this.waitTake(1, 1, undefined), (items) => items[0] as A)
    if (item === CLOSED) return this.fail()
    return Exit.succeed(item)
  })

  /**
   * Takes one item; `onReceive` runs in the same step as the item is handed over, so an owner can record it
   * before any interruption can strike.
   */
  takeWith(onReceive: (item: A) => void): Effect.Effect<A, E> {
    return Effect.suspend(() => {
      const item = this.pollUnsafe()
      if (item === EMPTY) {
        return Effect.map(this.waitTake(1, 1, (items) => onReceive(items[0] as A)), (items) => items[0] as A)
      }
      if (item === CLOSED) return this.fail()
      onReceive(item)
      return Exit.succeed(item)
    })
  }

  readonly takeIfAvailable: Effect.Effect<Option.Option<A>, E> = eager(() => {
    const item = this.pollUnsafe()
    if (item === EMPTY) return Exit.succeed(Option.none())
    if (item === CLOSED) return this.fail()
    return Exit.succeed(Option.some(item))
  })

  takeBetweenUnchecked(min: number, max: number): Effect.Effect<Array<A>, E> {
    const need = Math.min(min, this.capacity)
    return eager(() => {
      const items = this.tryTakeBetween(need, max)
      if (items === undefined) return this.waitTake(need, max, undefined)
      if (items === CLOSED) return this.fail()
      return Exit.succeed(items)
    })
  }

  readonly takeScoped: Effect.Effect<A, E, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Scope.Scope, (scope) => {
      let received = false
      return Effect.andThen(
        Scope.addFinalizer(
          scope,
          Effect.sync(() => {
            if (received) this.markDone(1)
          })
        ),
        restore(this.takeWith(() => {
          received = true
        }))
      )
    })
  )

  // ---------------------------------------------------------------------------------------------------- done, join

  /** Marks `n` items done; false (and nothing changes) if fewer than `n` are in flight. */
  markDone(n: number): boolean {
    if (this.inFlight < n) return false
    this.inFlight -= n
    this.done += n
    if (this.metrics !== undefined) this.metrics.setInFlight(this.inFlight)
    if (this.inFlight === 0 || this.joiners.length > 0) this.checkJoin()
    return true
  }

  readonly taskDoneN = (n: number): Effect.Effect<void, TaskDoneError> => {
    return eager(() =>
      this.markDone(n) ? Effect.void : Exit.fail(
        new TaskDoneError({ queue: this.name, count: n, inFlight: this.inFlight })
      )
    )
  }

  readonly taskDone: Effect.Effect<void, TaskDoneError> = this.taskDoneN(1)

  readonly join: Effect.Effect<void> = Effect.suspend(() =>
    this.unfinished === 0 ? Effect.void : Effect.withFiber((fiber) =>
      Effect.callback<void>((resume) => {
        const node = this.joiners.push({ fiber, resume })
        return Effect.sync(() => this.joiners.remove(node))
      })
    )
  )

  // ---------------------------------------------------------------------------------------------------- shutdown

  /** Shuts the queue down (an immediate shutdown hands what it drops to `onDrop`). */
  shutdownUnsafe(immediate: boolean): void {
    if (this.state === "shutdown" && (this.immediate || !immediate)) return
    this.state = "shutdown"
    for (const putter of this.putters.drain()) {
      putter.node = undefined
      putter.state = ENDED
      QueueCore.wake(putter.fiber, putter.resume, this.fail())
    }
    if (immediate) {
      this.immediate = true
      const dropped = this.buffer.clear()
      this.dropped += dropped.length
      if (dropped.length > 0) this.onDrop?.(dropped)
    } else {
      this.dispatch()
    }
    for (const taker of this.takers.drain()) {
      taker.node = undefined
      taker.state = ENDED
      QueueCore.wake(taker.fiber, taker.resume, this.fail())
    }
    if (this.metrics !== undefined) this.report(this.metrics)
    this.checkJoin()
  }

  readonly shutdown = (options?: { readonly immediate?: boolean | undefined }): Effect.Effect<void> => {
    return Effect.sync(() => {
      this.shutdownUnsafe(options?.immediate === true)
    })
  }

  readonly isShutdown: Effect.Effect<boolean> = Effect.sync(() => this.state !== "open")

  readonly size: Effect.Effect<number> = Effect.sync(() => this.occupied)

  statsUnsafe(): Stats {
    return {
      name: this.name,
      order: this.order,
      capacity: this.capacity,
      state: this.state === "open" ? "open" : this.immediate ? "shutdown-immediate" : "shutdown",
      size: this.occupied,
      unfinished: this.unfinished,
      inFlight: this.inFlight,
      waitingTakers: this.takers.length,
      waitingPutters: this.putters.length + this.reserved,
      offered: this.offered,
      taken: this.taken,
      done: this.done,
      dropped: this.dropped
    }
  }

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => this.statsUnsafe())
}

// -------------------------------------------------------------------------------------------------------------------
// Public wiring
// -------------------------------------------------------------------------------------------------------------------

/** @internal */
const ORDERS: ReadonlyArray<Order> = ["fifo", "lifo", "priority"]

/** @internal */
export const validateQueueOptions = <A>(
  module: string,
  options: Options<A> | undefined
): Effect.Effect<{ capacity: number; order: Order }, InvalidOptionError> =>
  Effect.gen(function*() {
    const capacity = yield* Effect.fromResult(InvalidOption.concurrency(module, options?.capacity, "capacity"))
    const order = yield* Effect.fromResult(InvalidOption.oneOf(module, "order", options?.order ?? "fifo", ORDERS))
    const priority = options?.priority
    yield* Effect.fromResult(
      order === "priority"
        ? InvalidOption.check(
          module,
          "priority",
          priority,
          (u) => typeof u === "function",
          "a function from an item to a number with order \"priority\""
        )
        : InvalidOption.check(
          module,
          "priority",
          priority === undefined ? undefined : "a function",
          (u) => u === undefined,
          "left out unless order is \"priority\""
        )
    )
    return { capacity, order }
  })

class WorkQueueImpl<A> extends QueueCore<A, QueueShutdownError> implements WorkQueue<A> {
  readonly takeUpTo = (max: number): Effect.Effect<Array<A>, QueueShutdownError | InvalidOptionError> => {
    const checked = InvalidOption.int("WorkQueue.takeUpTo", "max", max, { min: 1, orInfinity: true })
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    return this.takeBetweenUnchecked(1, max)
  }

  readonly takeBetween = (
    min: number,
    max: number
  ): Effect.Effect<Array<A>, QueueShutdownError | InvalidOptionError> => {
    const checked = Result.andThen(
      InvalidOption.int("WorkQueue.takeBetween", "min", min, { min: 1 }),
      InvalidOption.int("WorkQueue.takeBetween", "max", max, { min, orInfinity: true })
    )
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    return this.takeBetweenUnchecked(min, max)
  }
}

/** @internal */
export const isWorkQueue = (u: unknown): u is WorkQueue<unknown> => u instanceof WorkQueueImpl

/** @internal */
export const make = <A>(options?: Options<A>): Effect.Effect<WorkQueue<A>, InvalidOptionError> =>
  Effect.flatMap(
    validateQueueOptions("WorkQueue.make", options),
    ({ capacity, order }) =>
      Effect.map(Instruments.make("WorkQueue", options), (metrics) => {
        const name = options?.name ?? "WorkQueue"
        return new WorkQueueImpl<A>(
          name,
          order,
          capacity,
          options?.priority,
          () => new QueueShutdownError({ queue: name }),
          metrics,
          true
        )
      }).pipe(Registry.track("WorkQueue", options))
  )
