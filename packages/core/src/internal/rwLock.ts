/** @internal */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import type { Options, RWLock, Stats } from "../RWLock.ts"
import { RWLockReentryError } from "../RWLock.ts"
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

  private reentry(fiberId: number, requested: "read" | "write"): RWLockReentryError | undefined {
    if (this.writerHeld && this.writer === fiberId) return new RWLockReentryError({ requested, held: "write" })
    if (this.holdsRead(fiberId)) return new RWLockReentryError({ requested, held: "read" })
    return undefined
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
    if (this.waitingReaders.length > 0) this.admitReaders()
    else if (this.waitingWriters.length > 0) this.grantWriter()
    if (this.metrics !== undefined) this.report(this.metrics)
  }

  private grantWriter(): void {
    const next = this.waitingWriters.shift()
    if (next === undefined) return
    this.writerHeld = true
    this.writer = next.fiber.id
    next.grant()
  }

  private admitReaders(): void {
    for (let next = this.waitingReaders.shift(); next !== undefined; next = this.waitingReaders.shift()) {
      this.addReader(next.fiber.id)
      next.grant()
    }
  }

  private abandonRead(waiter: Waiter): void {
    if (waiter.state === GRANTED) {
      waiter.state = DONE
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
    abandon: (waiter: Waiter) => void
  ): Effect.Effect<void> {
    const waiter = new Waiter(fiber)
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

  /** Takes a read lock for `fiber`. Evaluate while uninterruptible. */
  private acquireRead(fiber: Fiber.Fiber<unknown, unknown>, restore: Restore): Effect.Effect<void> {
    const error = this.reentry(fiber.id, "read")
    if (error !== undefined) return Effect.die(error)
    if (!this.writerHeld && this.waitingWriters.length === 0) {
      this.addReader(fiber.id)
      if (this.metrics !== undefined) this.took(this.metrics)
      return Effect.void
    }
    return this.wait(this.waitingReaders, fiber, restore, this.onAbandonRead)
  }

  /** Takes the write lock for `fiber`. Evaluate while uninterruptible. */
  private acquireWrite(fiber: Fiber.Fiber<unknown, unknown>, restore: Restore): Effect.Effect<void> {
    const error = this.reentry(fiber.id, "write")
    if (error !== undefined) return Effect.die(error)
    if (!this.writerHeld && this.readers === 0 && this.waitingWriters.length === 0) {
      this.writerHeld = true
      this.writer = fiber.id
      if (this.metrics !== undefined) this.took(this.metrics)
      return Effect.void
    }
    return this.wait(this.waitingWriters, fiber, restore, this.onAbandonWrite)
  }

  private readonly releaseWriteOnExit = (): undefined => {
    this.releaseWrite()
    return undefined
  }

  private readonly releaseWriteEffect: Effect.Effect<void> = Effect.sync(() => this.releaseWrite())

  /** Releases the reader in the slot (which is the reader that registered this finalizer). */
  private readonly releaseSoleReadOnExit = (): undefined => {
    this.releaseRead(this.soleReader)
    return undefined
  }

  private releaseReadOnExit(fiberId: number): () => undefined {
    return () => {
      this.releaseRead(fiberId)
      return undefined
    }
  }

  readonly withReadLock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) => {
        const id = fiber.id
        if (!this.writerHeld && this.waitingWriters.length === 0 && !this.holdsRead(id)) {
          const release = this.addReader(id) ? this.releaseSoleReadOnExit : this.releaseReadOnExit(id)
          if (this.metrics !== undefined) this.took(this.metrics)
          return Effect.onExitPrimitive(restore(effect), release, true)
        }
        return Effect.flatMap(
          this.acquireRead(fiber, restore),
          () => Effect.onExitPrimitive(restore(effect), this.releaseReadOnExit(id), true)
        )
      })
    )

  readonly withWriteLock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) => {
        if (!this.writerHeld && this.readers === 0 && this.waitingWriters.length === 0) {
          this.writerHeld = true
          this.writer = fiber.id
          if (this.metrics !== undefined) this.took(this.metrics)
          return Effect.onExitPrimitive(restore(effect), this.releaseWriteOnExit, true)
        }
        return Effect.flatMap(
          this.acquireWrite(fiber, restore),
          () => Effect.onExitPrimitive(restore(effect), this.releaseWriteOnExit, true)
        )
      })
    )

  readonly readLockScoped: Effect.Effect<void, never, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.scope, (scope) =>
      Effect.withFiber((fiber) => {
        const id = fiber.id
        return Effect.flatMap(
          this.acquireRead(fiber, restore),
          () => Scope.addFinalizer(scope, Effect.sync(() => this.releaseRead(id)))
        )
      }))
  )

  readonly writeLockScoped: Effect.Effect<void, never, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      Effect.scope,
      (scope) =>
        Effect.withFiber((fiber) =>
          Effect.flatMap(this.acquireWrite(fiber, restore), () => Scope.addFinalizer(scope, this.releaseWriteEffect))
        )
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
