/** @internal */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import type { Options, RWLock, Stats } from "../RWLock.ts"
import { RWLockReentryError } from "../RWLock.ts"
import * as Hold from "./hold.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"
import { DONE, GRANTED, nowMillis, Waiter, WAITING } from "./waiter.ts"
import { WaitList } from "./waitList.ts"

type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * Writer-preferring: a reader gets in at once only if no writer holds the lock and none waits; a writer gets in
 * when nobody holds the lock. When a writer releases, every reader waiting at that moment gets in together (then
 * the next writer waits for them); when the last reader releases, the next writer gets in. So a stream of readers
 * cannot starve a writer, and a stream of writers cannot starve the readers that queued between them.
 */
class RWLockImpl implements RWLock {
  /** Readers holding the lock. */
  readers = 0
  /**
   * Who holds a read lock, for re-entry checks: one slot (the common case of readers that do not overlap costs
   * no set operation) plus a set for the others. A reader put in the slot stays there until it releases.
   */
  soleReader = -1
  readonly otherReaders = new Set<number>()
  writerHeld = false
  writer = -1
  /** The hold the write lock is held with (meaningful while `writerHeld`). */
  writerHold: Hold.Hold | undefined = undefined
  readonly waitingReaders = new WaitList<Waiter>()
  readonly waitingWriters = new WaitList<Waiter>()
  readonly metrics: Instruments.Instruments | undefined

  constructor(metrics: Instruments.Instruments | undefined) {
    this.metrics = metrics
    if (metrics !== undefined) this.report(metrics)
  }

  /** Sets the gauges from the state: in flight = readers + writer, waiting = waiting readers + writers. */
  private report(metrics: Instruments.Instruments): void {
    metrics.setInFlight(this.readers + (this.writerHeld ? 1 : 0))
    metrics.setWaiting(this.waitingReaders.length + this.waitingWriters.length)
  }

  /** A lock was taken at once (metrics on). */
  private took(metrics: Instruments.Instruments): void {
    this.report(metrics)
    metrics.addAcquired()
    metrics.recordWait(0)
  }

  /**
   * The re-entry error if `fiber` holds the lock already: it took it, or it was forked inside a section holding it
   * (by `Effect.timeout`, `Deadline.within`, `Effect.forkChild`...; see `hold.ts`).
   */
  private reentry(fiber: Fiber.Fiber<unknown, unknown>, requested: "read" | "write"): RWLockReentryError | undefined {
    const fiberId = fiber.id
    if (this.writerHeld && this.writer === fiberId) return new RWLockReentryError({ requested, held: "write" })
    if (this.holdsRead(fiberId)) return new RWLockReentryError({ requested, held: "read" })
    if (!this.writerHeld && this.readers === 0) return undefined
    const hold = Hold.activeIn(fiber, this)
    if (hold === undefined) return undefined
    return new RWLockReentryError({ requested, held: hold.mode === Hold.WRITE ? "write" : "read" })
  }

  private holdsRead(fiberId: number): boolean {
    return fiberId === this.soleReader || (this.otherReaders.size > 0 && this.otherReaders.has(fiberId))
  }

  /** Records a reader; returns whether it went in the slot. */
  private addReader(fiberId: number): boolean {
    this.readers++
    if (this.soleReader === -1) {
      this.soleReader = fiberId
      return true
    }
    this.otherReaders.add(fiberId)
    return false
  }

  private releaseRead(fiberId: number): void {
    if (fiberId === this.soleReader) this.soleReader = -1
    else this.otherReaders.delete(fiberId)
    this.readers--
    if (this.readers === 0) {
      if (this.waitingWriters.length > 0) this.grantWriter()
      else this.admitReaders()
    }
    if (this.metrics !== undefined) this.report(this.metrics)
  }

  private releaseWrite(): void {
    this.writerHeld = false
    this.writer = -1
    if (this.writerHold !== undefined) this.writerHold.active = false
    this.writerHold = undefined
    if (this.waitingReaders.length > 0) this.admitReaders()
    else if (this.waitingWriters.length > 0) this.grantWriter()
    if (this.metrics !== undefined) this.report(this.metrics)
  }

  private grantWriter(): void {
    const next = this.waitingWriters.shift()
    if (next === undefined) return
    this.writerHeld = true
    this.writer = next.fiber.id
    this.writerHold = next.hold
    next.hold!.active = true
    next.grant()
  }

  private admitReaders(): void {
    for (let next = this.waitingReaders.shift(); next !== undefined; next = this.waitingReaders.shift()) {
      this.addReader(next.fiber.id)
      next.hold!.active = true
      next.grant()
    }
  }

  private abandonRead(waiter: Waiter): void {
    if (waiter.state === GRANTED) {
      waiter.state = DONE
      waiter.hold!.active = false
      this.releaseRead(waiter.fiber.id)
    } else if (waiter.state === WAITING) {
      waiter.state = DONE
      if (waiter.node !== undefined) this.waitingReaders.remove(waiter.node)
      if (this.metrics !== undefined) this.report(this.metrics)
    }
  }

  private abandonWrite(waiter: Waiter): void {
    if (waiter.state === GRANTED) {
      waiter.state = DONE
      this.releaseWrite()
    } else if (waiter.state === WAITING) {
      waiter.state = DONE
      if (waiter.node !== undefined) this.waitingWriters.remove(waiter.node)
      // The readers queued behind this writer may go in now, unless a writer holds the lock or still waits.
      if (!this.writerHeld && this.waitingWriters.length === 0) this.admitReaders()
      if (this.metrics !== undefined) this.report(this.metrics)
    }
  }

  private wait(
    list: WaitList<Waiter>,
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: Restore,
    abandon: (waiter: Waiter) => void,
    hold: Hold.Hold
  ): Effect.Effect<void> {
    const waiter = new Waiter(fiber)
    waiter.hold = hold
    waiter.node = list.push(waiter)
    if (this.metrics !== undefined) {
      waiter.since = nowMillis(fiber)
      this.report(this.metrics)
    }
    return Effect.onExitPrimitive(restore(waiter.await), (exit: Exit.Exit<void>) => {
      if (exit._tag === "Success") {
        waiter.state = DONE
        if (this.metrics !== undefined) {
          this.metrics.addAcquired()
          this.metrics.recordWait(nowMillis(fiber) - waiter.since)
        }
      } else {
        abandon(waiter)
      }
      return undefined
    }, true)
  }

  private readonly onAbandonRead = (waiter: Waiter) => this.abandonRead(waiter)
  private readonly onAbandonWrite = (waiter: Waiter) => this.abandonWrite(waiter)

  /** Takes a read lock for `fiber` with `hold`. Evaluate while uninterruptible. */
  private acquireRead(fiber: Fiber.Fiber<unknown, unknown>, restore: Restore, hold: Hold.Hold): Effect.Effect<void> {
    const error = this.reentry(fiber, "read")
    if (error !== undefined) return Effect.die(error)
    if (!this.writerHeld && this.waitingWriters.length === 0) {
      this.addReader(fiber.id)
      hold.active = true
      if (this.metrics !== undefined) this.took(this.metrics)
      return Effect.void
    }
    return this.wait(this.waitingReaders, fiber, restore, this.onAbandonRead, hold)
  }

  /** Takes the write lock for `fiber` with `hold`. Evaluate while uninterruptible. */
  private acquireWrite(fiber: Fiber.Fiber<unknown, unknown>, restore: Restore, hold: Hold.Hold): Effect.Effect<void> {
    const error = this.reentry(fiber, "write")
    if (error !== undefined) return Effect.die(error)
    if (!this.writerHeld && this.readers === 0 && this.waitingWriters.length === 0) {
      this.writerHeld = true
      this.writer = fiber.id
      this.writerHold = hold
      hold.active = true
      if (this.metrics !== undefined) this.took(this.metrics)
      return Effect.void
    }
    return this.wait(this.waitingWriters, fiber, restore, this.onAbandonWrite, hold)
  }

  /** Runs `effect` (already under `restore`) as the section of `hold`, then `release`s. */
  private section<A, E, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    hold: Hold.Hold,
    effect: Effect.Effect<A, E, R>,
    release: () => void
  ): Effect.Effect<A, E, R> {
    const previous = Hold.enter(fiber, hold)
    return Effect.onExitPrimitive(effect, () => {
      fiber.setContext(previous)
      release()
      return undefined
    }, true)
  }

  private readonly releaseWriteNow = (): void => this.releaseWrite()

  private readonly releaseWriteEffect: Effect.Effect<void> = Effect.sync(() => this.releaseWrite())

  private releaseReadOf(fiberId: number, hold: Hold.Hold): () => void {
    return () => {
      hold.active = false
      this.releaseRead(fiberId)
    }
  }

  readonly withReadLock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) => {
        const id = fiber.id
        const hold = Hold.make(fiber, this, Hold.READ)
        const release = this.releaseReadOf(id, hold)
        if (
          !this.writerHeld && this.waitingWriters.length === 0 &&
          (this.readers === 0 || (!this.holdsRead(id) && Hold.activeIn(fiber, this) === undefined))
        ) {
          this.addReader(id)
          hold.active = true
          if (this.metrics !== undefined) this.took(this.metrics)
          return this.section(fiber, hold, restore(effect), release)
        }
        return Effect.flatMap(
          this.acquireRead(fiber, restore, hold),
          () => this.section(fiber, hold, restore(effect), release)
        )
      })
    )

  readonly withWriteLock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) => {
        const hold = Hold.make(fiber, this, Hold.WRITE)
        if (!this.writerHeld && this.readers === 0 && this.waitingWriters.length === 0) {
          this.writerHeld = true
          this.writer = fiber.id
          this.writerHold = hold
          hold.active = true
          if (this.metrics !== undefined) this.took(this.metrics)
          return this.section(fiber, hold, restore(effect), this.releaseWriteNow)
        }
        return Effect.flatMap(
          this.acquireWrite(fiber, restore, hold),
          () => this.section(fiber, hold, restore(effect), this.releaseWriteNow)
        )
      })
    )

  readonly readLockScoped: Effect.Effect<void, never, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.scope, (scope) =>
      Effect.withFiber((fiber) => {
        const id = fiber.id
        const hold = Hold.make(fiber, this, Hold.READ)
        return Effect.flatMap(this.acquireRead(fiber, restore, hold), () => {
          Hold.enter(fiber, hold)
          return Scope.addFinalizer(scope, Effect.sync(this.releaseReadOf(id, hold)))
        })
      }))
  )

  readonly writeLockScoped: Effect.Effect<void, never, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      Effect.scope,
      (scope) =>
        Effect.withFiber((fiber) => {
          const hold = Hold.make(fiber, this, Hold.WRITE)
          return Effect.flatMap(this.acquireWrite(fiber, restore, hold), () => {
            Hold.enter(fiber, hold)
            return Scope.addFinalizer(scope, this.releaseWriteEffect)
          })
        })
    )
  )

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    readers: this.readers,
    writer: this.writerHeld,
    waitingReaders: this.waitingReaders.length,
    waitingWriters: this.waitingWriters.length
  }))
}

/** @internal */
export const makeUnsafe = (options?: Options): RWLock =>
  Registry.trackUnsafe(
    "RWLock",
    options,
    Context.empty(),
    new RWLockImpl(Instruments.makeUnsafe("RWLock", options, Context.empty()))
  )

/** @internal */
export const makeWith = (options: Options): Effect.Effect<RWLock> =>
  Effect.map(Instruments.make("RWLock", options), (metrics) => new RWLockImpl(metrics)).pipe(
    Registry.track("RWLock", options)
  )

/** @internal */
export const make: Effect.Effect<RWLock> = Effect.sync(() => new RWLockImpl(undefined))

/** @internal */
export const isRWLock = (u: unknown): u is RWLock => u instanceof RWLockImpl
