/** @internal */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Result from "effect/Result"
import type { InvalidOptionError } from "../InvalidOption.ts"
import * as InvalidOption from "../InvalidOption.ts"
import type { KeyedLimiter, Options as KeyedOptions, Stats as KeyedStats } from "../KeyedLimiter.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"
import { DONE, GRANTED, nowMillis, Waiter, WAITING } from "./waiter.ts"
import { WaitList } from "./waitList.ts"

/** A waiter of a keyed limiter: first in its key's queue, then (with its key slot reserved) in the global queue. */
class KeyedWaiter<K> extends Waiter {
  readonly entry: Entry<K>
  /** Whether it waits in the global queue (holding a reservation of its key's slot) rather than its key's. */
  global = false

  constructor(fiber: Fiber.Fiber<unknown, unknown>, entry: Entry<K>) {
    super(fiber)
    this.entry = entry
  }
}

/** The state of one key; it exists only while the key has holders or waiters. */
class Entry<K> {
  readonly key: K
  /** Key slots taken: holders running plus waiters in the global queue (which reserved one). */
  held = 0
  /** Callers of this key waiting because the key is at its cap, FIFO. */
  readonly queue = new WaitList<KeyedWaiter<K>>()

  constructor(key: K) {
    this.key = key
  }
}

/**
 * A cap per key plus an optional global cap, both held by every running call.
 *
 * Fairness rule: each key has its own FIFO queue of callers held by the key's cap, and a caller joins the single
 * global FIFO queue only when its key has room (its key slot is then reserved for it). Global permits go to the
 * global queue in order. So a caller blocked by its own key's cap never holds up another key, and among callers
 * whose key has room the order is the order in which they became eligible (arrival for a caller that did not have
 * to wait for its key). This is "FIFO over the global queue, skipping entries whose key is saturated", at O(1) per
 * operation: saturated entries never enter the global queue.
 */
class KeyedLimiterImpl<K> implements KeyedLimiter<K> {
  pipe() {
    return pipeArguments(this, arguments)
  }

  readonly name: string
  readonly perKey: number
  readonly global: number
  readonly entries = new Map<K, Entry<K>>()
  /** Callers whose key had room, waiting for a global permit, FIFO. */
  readonly globalQueue = new WaitList<KeyedWaiter<K>>()
  inFlight = 0
  /** Callers waiting in the key queues (the global queue has its own length). */
  keyWaiting = 0
  acquired = 0
  waited = 0
  rejected = 0
  readonly metrics: Instruments.Instruments | undefined

  constructor(name: string, perKey: number, global: number, metrics: Instruments.Instruments | undefined) {
    this.name = name
    this.perKey = perKey
    this.global = global
    this.metrics = metrics
    if (metrics !== undefined) {
      if (Number.isFinite(global)) metrics.setLimit(global)
      metrics.setInFlight(0)
      metrics.setWaiting(0)
    }
  }

  private get waiting(): number {
    return this.keyWaiting + this.globalQueue.length
  }

  private updateGauges(): void {
    if (this.metrics !== undefined) {
      this.metrics.setInFlight(this.inFlight)
      this.metrics.setWaiting(this.waiting)
    }
  }

  private entry(key: K): Entry<K> {
    let entry = this.entries.get(key)
    if (entry === undefined) {
      entry = new Entry(key)
      this.entries.set(key, entry)
    }
    return entry
  }

  private evictIfIdle(entry: Entry<K>): void {
    if (entry.held === 0 && entry.queue.length === 0) this.entries.delete(entry.key)
  }

  /** Admits at once if the key and the global cap both have room and nobody waits ahead. */
  private tryTake(key: K): Entry<K> | undefined {
    if (this.inFlight >= this.global || this.globalQueue.length > 0) return undefined
    const existing = this.entries.get(key)
    if (existing !== undefined && (existing.held >= this.perKey || existing.queue.length > 0)) return undefined
    let entry = existing
    if (entry === undefined) {
      entry = new Entry(key)
      this.entries.set(key, entry)
    }
    entry.held++
    this.inFlight++
    this.acquired++
    if (this.metrics !== undefined) {
      this.metrics.setInFlight(this.inFlight)
      this.metrics.addAcquired()
      this.metrics.recordWait(0)
    }
    return entry
  }

  /** A waiter whose key slot is now reserved: admit it if the global cap allows, or queue it globally. */
  private toGlobal(waiter: KeyedWaiter<K>): void {
    if (this.inFlight < this.global && this.globalQueue.length === 0) {
      this.inFlight++
      waiter.grant()
    } else {
      waiter.global = true
      waiter.node = this.globalQueue.push(waiter)
    }
  }

  /** Moves waiters of `entry` to the global stage while the key has room. */
  private promote(entry: Entry<K>): void {
    while (entry.held < this.perKey) {
      const next = entry.queue.shift()
      if (next === undefined) break
      this.keyWaiting--
      entry.held++
      this.toGlobal(next)
    }
  }

  private drainGlobal(): void {
    while (this.inFlight < this.global) {
      const next = this.globalQueue.shift()
      if (next === undefined) break
      next.global = false
      this.inFlight++
      next.grant()
    }
  }

  /** A holder of `entry` ended. */
  release(entry: Entry<K>): void {
    this.inFlight--
    entry.held--
    this.promote(entry)
    this.drainGlobal()
    this.evictIfIdle(entry)
    this.updateGauges()
  }

  private abandon(waiter: KeyedWaiter<K>): void {
    const entry = waiter.entry
    if (waiter.state === GRANTED) {
      waiter.state = DONE
      this.release(entry)
      return
    }
    if (waiter.state !== WAITING) return
    waiter.state = DONE
    if (waiter.global) {
      if (waiter.node !== undefined) this.globalQueue.remove(waiter.node)
      entry.held--
      this.promote(entry)
    } else {
      if (waiter.node !== undefined) entry.queue.remove(waiter.node)
      this.keyWaiting--
    }
    waiter.node = undefined
    this.evictIfIdle(entry)
    this.updateGauges()
  }

  private observe(waiter: KeyedWaiter<K>): void {
    waiter.state = DONE
    this.acquired++
    this.waited++
    if (this.metrics !== undefined) {
      this.metrics.addAcquired()
      this.metrics.recordWait(nowMillis(waiter.fiber) - waiter.since)
    }
  }

  /** Parks the caller for `key`. Evaluate while uninterruptible. */
  private wait(
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    key: K
  ): Effect.Effect<Entry<K>> {
    const entry = this.entry(key)
    const waiter = new KeyedWaiter(fiber, entry)
    if (this.metrics !== undefined) waiter.since = nowMillis(fiber)
    if (entry.held < this.perKey && entry.queue.length === 0) {
      // The key has room: the caller only waits for the global cap.
      entry.held++
      waiter.global = true
      waiter.node = this.globalQueue.push(waiter)
    } else {
      this.keyWaiting++
      waiter.node = entry.queue.push(waiter)
    }
    this.updateGauges()
    return Effect.onExitPrimitive(restore(Effect.as(waiter.await, entry)), (exit) => {
      if (exit._tag === "Success") this.observe(waiter)
      else this.abandon(waiter)
      return undefined
    }, true)
  }

  private runHolding<A, E, R>(
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    entry: Entry<K>,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> {
    return Effect.onExitPrimitive(restore(effect), () => {
      this.release(entry)
      return undefined
    }, true)
  }

  readonly withPermit = <A, E, R>(key: K, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const entry = this.tryTake(key)
      if (entry !== undefined) return this.runHolding(restore, entry, effect)
      // Queued in the same synchronous step as the failed attempt, so no release can slip in between.
      return Effect.flatMap(
        this.wait(Fiber.getCurrent()!, restore, key),
        (entry) => this.runHolding(restore, entry, effect)
      )
    })

  readonly withPermitIfAvailable = <A, E, R>(
    key: K,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Option.Option<A>, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const entry = this.tryTake(key)
      if (entry !== undefined) return this.runHolding(restore, entry, Effect.asSome(effect))
      this.rejected++
      if (this.metrics !== undefined) this.metrics.addRejected()
      return Effect.succeedNone
    })

  readonly stats: Effect.Effect<KeyedStats> = Effect.sync(() => ({
    name: this.name,
    limit: this.global,
    perKey: this.perKey,
    inFlight: this.inFlight,
    waiting: this.waiting,
    keys: this.entries.size,
    acquired: this.acquired,
    waited: this.waited,
    rejected: this.rejected
  }))
}

/** @internal */
export const isKeyedLimiter = (u: unknown): u is KeyedLimiter<unknown> => u instanceof KeyedLimiterImpl

/** @internal */
export const make = <K>(options: KeyedOptions): Effect.Effect<KeyedLimiter<K>, InvalidOptionError> =>
  Effect.flatMap(
    Effect.fromResult(Result.all([
      InvalidOption.int("KeyedLimiter.make", "perKey", options.perKey, { min: 1 }),
      options.global === undefined
        ? Result.succeed(undefined)
        : InvalidOption.int("KeyedLimiter.make", "global", options.global, { min: 1 })
    ])),
    () =>
      Effect.map(
        Instruments.make("KeyedLimiter", options),
        (metrics) =>
          new KeyedLimiterImpl<K>(
            options.name ?? "KeyedLimiter",
            options.perKey,
            options.global ?? Number.POSITIVE_INFINITY,
            metrics
          )
      ).pipe(Registry.track("KeyedLimiter", options, describeKeyed))
  )

/**
 * The limiter's stats plus its busiest keys (holders and waiters per key, at most 50), for the registry.
 *
 * @internal
 */
const describeKeyed = <K>(limiter: KeyedLimiter<K>): Effect.Effect<unknown> =>
  Effect.map(limiter.stats, (stats) => {
    const entries = (limiter as KeyedLimiterImpl<K>).entries
    const perKey = Array.from(entries.values(), (e) => ({
      key: String(e.key),
      inFlight: e.held,
      waiting: e.queue.length
    }))
    perKey.sort((a, b) => b.inFlight + b.waiting - a.inFlight - a.waiting)
    return { ...stats, perKeys: perKey.slice(0, 50) }
  })
