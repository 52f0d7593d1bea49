/** @internal */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { Options, Stats, Strategy, Throttle } from "../Throttle.ts"
import { ThrottledError } from "../Throttle.ts"
import * as Metrics from "./metrics.ts"
import type { Node } from "./waitList.ts"
import { WaitList } from "./waitList.ts"

const MODULE = "Throttle.make"

const WAITING = 0
/** The front of the line: it sleeps until a slot frees up, then admits as many callers as there are free slots. */
const HEAD = 1
/** Given a slot; it starts on its next scheduler turn. */
const ADMITTED = 2
/** Interrupted, or its head duty ended. */
const DONE = 3

/** A caller waiting in line (`"delay"`). */
class Waiter {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  /** When it arrived, for the wait-time metric. */
  readonly arrived: number
  readonly resume: (effect: Effect.Effect<void>) => void
  state: typeof WAITING | typeof HEAD | typeof ADMITTED | typeof DONE = WAITING
  node: Node<Waiter> | undefined = undefined
  /** The time of its admission (its entry in the log), to give the slot back if it never started. */
  admittedAt = 0
  /** What it runs when woken as the head. */
  head: Effect.Effect<void> | undefined = undefined

  constructor(fiber: Fiber.Fiber<unknown, unknown>, arrived: number, resume: (effect: Effect.Effect<void>) => void) {
    this.fiber = fiber
    this.arrived = arrived
    this.resume = resume
  }

  /**
   * Resumes the waiter with what it was granted. Called from a scheduled task, never inside the fiber that
   * decided; a waiter interrupted meanwhile has been resumed already (with its interruption), and this is ignored.
   */
  wake(): void {
    if (this.state === ADMITTED) this.resume(Effect.void)
    else if (this.state === HEAD) this.resume(this.head!)
  }
}

/**
 * A sliding-window-log throttle. `log` is a ring of the last `limit` admission times, oldest at `head`: a new call
 * may start at `t` when fewer than `limit` calls started in `(t - window, t]`, that is when the oldest of the last
 * `limit` admissions is at least `window` old. So every half-open span `[t, t + window)` holds at most `limit`
 * admissions, in O(1) time and O(limit) memory.
 *
 * Delayed callers wait in a FIFO line (a `WaitList`: O(1) push, shift and removal of an interrupted waiter). Only
 * the waiter at the front sleeps, until the oldest admission ages out; it then admits itself and every waiter
 * behind it that fits, all at once (one scheduler turn for a whole wave, not one per waiter), and hands the
 * front to the next one. An interrupted waiter leaves the line without a slot; an interrupted front passes its
 * duty on; a waiter interrupted after it was admitted but before it ran gives its slot back.
 */
class ThrottleImpl<E> implements Throttle<E> {
  readonly name: string
  readonly limit: number
  readonly window: Duration.Duration
  readonly strategy: Strategy
  private readonly windowMillis: number
  private readonly log: Float64Array
  private oldest = 0
  private count = 0
  /** The latest time seen, so a wall clock stepping back cannot reorder the log. */
  private last = Number.NEGATIVE_INFINITY
  private readonly line = new WaitList<Waiter>()
  /** The waiter with the front duty (granted or sleeping), if any. */
  private front: Waiter | undefined = undefined
  private readonly instruments: Metrics.Instruments | undefined
  private running = 0
  private admitted = 0
  private delayed = 0
  private rejected = 0

  constructor(
    name: string,
    limit: number,
    window: Duration.Duration,
    strategy: Strategy,
    instruments: Metrics.Instruments | undefined
  ) {
    this.name = name
    this.limit = limit
    this.window = window
    this.windowMillis = Duration.toMillis(window)
    this.strategy = strategy
    this.log = new Float64Array(limit)
    this.instruments = instruments
    instruments?.setLimit(limit)
  }

  private now(fiber: Fiber.Fiber<unknown, unknown>): number {
    const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
    if (now > this.last) this.last = now
    return this.last
  }

  /** The earliest time at or after `now` when a call may start. */
  private freeAt(now: number): number {
    if (this.count < this.limit) return now
    const at = this.log[this.oldest]! + this.windowMillis
    return at > now ? at : now
  }

  private admit(now: number): void {
    if (this.count < this.limit) {
      this.log[(this.oldest + this.count) % this.limit] = now
      this.count++
    } else {
      this.log[this.oldest] = now
      this.oldest = (this.oldest + 1) % this.limit
    }
    this.admitted++
    this.instruments?.addAcquired()
  }

  /** Removes one admission at time `t` from the log (a slot given back). O(limit), on a rare path. */
  private unadmit(t: number): void {
    const times: Array<number> = []
    for (let i = 0; i < this.count; i++) times.push(this.log[(this.oldest + i) % this.limit]!)
    const i = times.lastIndexOf(t)
    if (i === -1) return
    times.splice(i, 1)
    this.oldest = 0
    this.count = times.length
    for (let j = 0; j < times.length; j++) this.log[j] = times[j]!
    this.admitted--
    this.delayed--
  }

  private setWaiting(): void {
    this.instruments?.setWaiting(this.line.length)
  }

  /**
   * Admits waiters from the front while slots are free at `now`, then gives the front duty to the first one left
   * if nobody has it. Called by the front itself, or when there is no front. The waiters it admits (and the new
   * front) are resumed together in one task on the current fiber's dispatcher: one scheduler turn for a whole
   * wave (each fiber's own dispatcher would cost one `setImmediate` per waiter: 100k delayed callers took 340 ms
   * that way, 200 ms this way).
   */
  private dispatch(now: number, self?: Waiter): void {
    let woken: Array<Waiter> | undefined
    while (this.line.length > 0 && this.freeAt(now) <= now) {
      const waiter = this.line.shift()!
      waiter.node = undefined
      if (waiter === this.front) this.front = undefined
      this.admit(now)
      this.delayed++
      this.instruments?.recordWait(now - waiter.arrived)
      waiter.admittedAt = now
      waiter.state = ADMITTED
      if (waiter !== self) (woken ??= []).push(waiter)
    }
    if (this.front === undefined && this.line.length > 0) {
      const front = this.line.peek()!
      this.front = front
      front.state = HEAD
      front.head ??= this.frontDuty(front)
      if (front !== self) (woken ??= []).push(front)
    }
    this.setWaiting()
    if (woken !== undefined) {
      const wave = woken
      const dispatcher = (Fiber.getCurrent() ?? wave[0]!.fiber).currentDispatcher
      dispatcher.scheduleTask(() => {
        for (const waiter of wave) waiter.wake()
      }, 0)
    }
  }

  /** The front's loop: admit what fits, else sleep until the oldest admission ages out. */
  private frontLoop(waiter: Waiter): Effect.Effect<void> {
    return Effect.withFiber((fiber) => {
      const now = this.now(fiber)
      this.dispatch(now, waiter)
      if (waiter.state === ADMITTED) return Effect.void
      return Effect.flatMap(Effect.sleep(this.freeAt(now) - now), () => this.frontLoop(waiter))
    })
  }

  private frontDuty(waiter: Waiter): Effect.Effect<void> {
    return Effect.onExitPrimitive(
      this.frontLoop(waiter),
      (exit) => exit._tag === "Failure" ? this.abandonEffect(waiter) : undefined,
      true
    )
  }

  /** A waiter was interrupted while waiting, holding the front duty, or admitted but not yet running. */
  private abandon(waiter: Waiter, now: number): void {
    const state = waiter.state
    waiter.state = DONE
    if (state === WAITING) {
      if (waiter.node !== undefined) this.line.remove(waiter.node)
      waiter.node = undefined
      this.setWaiting()
    } else if (state === HEAD) {
      if (waiter.node !== undefined) this.line.remove(waiter.node)
      waiter.node = undefined
      if (this.front === waiter) this.front = undefined
      this.dispatch(now)
    } else if (state === ADMITTED) {
      // The slot was never used. The front (if any) finds it when it next wakes.
      this.unadmit(waiter.admittedAt)
    }
  }

  private register(resume: (effect: Effect.Effect<void, E>) => void): Effect.Effect<void> | undefined {
    const fiber = Fiber.getCurrent()!
    const now = this.now(fiber)
    // The fast path: nobody in line and a slot free now.
    if (this.line.length === 0 && this.freeAt(now) <= now) {
      this.admit(now)
      this.instruments?.recordWait(0)
      resume(Effect.void)
      return undefined
    }
    if (this.strategy === "reject") {
      this.rejected++
      this.instruments?.addRejected()
      resume(
        Effect.fail(
          new ThrottledError({
            name: this.name,
            limit: this.limit,
            window: this.window,
            retryAfter: Duration.millis(this.freeAt(now) - now)
          })
        ) as Effect.Effect<never, E>
      )
      return undefined
    }
    const waiter = new Waiter(fiber, now, resume)
    waiter.node = this.line.push(waiter)
    if (this.front === undefined) this.dispatch(now)
    else this.setWaiting()
    return this.abandonEffect(waiter)
  }

  private abandonEffect(waiter: Waiter): Effect.Effect<void> {
    return Effect.withFiber((fiber) => {
      this.abandon(waiter, this.now(fiber))
      return Effect.void
    })
  }

  readonly take: Effect.Effect<void, E> = Effect.callback<void, E>((resume) => this.register(resume))

  private readonly endRun = (_: Exit.Exit<unknown, unknown>): undefined => {
    this.running--
    this.instruments?.setInFlight(this.running)
    return undefined
  }

  readonly withThrottle = <A, E2, R>(effect: Effect.Effect<A, E2, R>): Effect.Effect<A, E | E2, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(this.take), () => {
        this.running++
        this.instruments?.setInFlight(this.running)
        return Effect.onExitPrimitive(restore(effect), this.endRun, true)
      })
    )

  readonly stats: Effect.Effect<Stats> = Effect.withFiber((fiber) => {
    const now = this.now(fiber)
    let inWindow = 0
    for (let i = 0; i < this.count; i++) {
      if (this.log[(this.oldest + i) % this.limit]! > now - this.windowMillis) inWindow++
    }
    return Effect.succeed({
      name: this.name,
      strategy: this.strategy,
      limit: this.limit,
      windowMillis: this.windowMillis,
      available: this.limit - inWindow,
      waiting: this.line.length,
      running: this.running,
      admitted: this.admitted,
      delayed: this.delayed,
      rejected: this.rejected
    })
  })
}

/** @internal */
export const isThrottle = (u: unknown): u is Throttle<unknown> => u instanceof ThrottleImpl

const STRATEGIES: ReadonlyArray<Strategy> = ["delay", "reject"]

/** @internal */
export const make = (options: Options): Effect.Effect<Throttle<any>, InvalidOptionError> =>
  Effect.gen(function*() {
    const limit = options.limit
    yield* Effect.fromResult(InvalidOption.int(MODULE, "limit", limit, { min: 1 }))
    const window = yield* Effect.fromResult(
      InvalidOption.duration(MODULE, "window", options.window, { exclusive: true, finite: true })
    )
    const strategy = yield* Effect.fromResult(
      InvalidOption.oneOf(MODULE, "strategy", options.strategy ?? "delay", STRATEGIES)
    )
    const instruments = yield* Metrics.make("Throttle", options)
    return new ThrottleImpl(options.name ?? "Throttle", limit, window, strategy, instruments)
  })
