/** @internal */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { MetricsOptions } from "../Metrics.ts"
import type { Mutex, Options, Stats } from "../Mutex.ts"
import * as Hold from "./hold.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"
import { DONE, GRANTED, nowMillis, Waiter, WAITING } from "./waiter.ts"
import { WaitList } from "./waitList.ts"

/**
 * The fiber that holds a lock (or a fiber forked inside its section, such as the one `Effect.timeout` runs the
 * work in) tried to take it again. The lock is not re-entrant, so waiting would deadlock; this is a defect (a
 * programming error), raised with `Effect.die` at the second acquisition.
 *
 * @category errors
 * @since 0.1.0
 */
export class MutexReentryError extends Data.TaggedError("MutexReentryError")<{}> {
  override get message(): string {
    return "Mutex: the fiber that holds the lock tried to lock it again; Mutex is not re-entrant and this would deadlock"
  }
}

/**
 * The metrics of one lock, or of all the keys of a KeyedMutex together: in flight = locks held, waiting = fibers
 * queued, acquired and wait time per acquisition. A lock without metrics holds `undefined` instead.
 *
 * @internal
 */
export class LockMetrics {
  readonly instruments: Instruments.Instruments
  held = 0
  waiting = 0

  constructor(instruments: Instruments.Instruments) {
    this.instruments = instruments
    instruments.setInFlight(0)
    instruments.setWaiting(0)
  }

  /** A free lock was taken at once. */
  took(): void {
    this.instruments.setInFlight(++this.held)
    this.instruments.addAcquired()
    this.instruments.recordWait(0)
  }

  /** A lock became free with nobody waiting. */
  freed(): void {
    this.instruments.setInFlight(--this.held)
  }

  /** A waiter joined (`+1`) or left (`-1`) a queue. */
  queued(delta: number): void {
    this.waiting += delta
    this.instruments.setWaiting(this.waiting)
  }

  /** A waiter observed its grant after `millis` of waiting. */
  acquiredAfter(millis: number): void {
    this.instruments.addAcquired()
    this.instruments.recordWait(millis)
  }
}

/** Lock metrics for a primitive of `kind`, or `undefined` when off (`context`: where the MetricRegistry lives). */
export const lockMetrics = (
  kind: string,
  options: MetricsOptions | undefined,
  context: Context.Context<never>
): LockMetrics | undefined => {
  const instruments = Instruments.makeUnsafe(kind, options, context)
  return instruments === undefined ? undefined : new LockMetrics(instruments)
}

/**
 * The state machine of one non-reentrant FIFO lock, shared by `Mutex` and every key of `KeyedMutex`. All methods
 * are synchronous; the effectful ones must be evaluated while the calling fiber is uninterruptible (they receive
 * `restore` to make only the wait interruptible).
 *
 * Ownership is a `Hold` (see `hold.ts`): the holder is the fiber that took the lock and every fiber whose context
 * carries the hold, i.e. was forked inside the section (by `Effect.timeout`, `Effect.race`, `Deadline.within`,
 * `Effect.forkChild`...). Taking the lock again from any of them would wait for the section that waits for it, so
 * it dies with the re-entry error.
 *
 * @internal
 */
export class MutexCore {
  locked = false
  /** The hold the lock is held with (meaningful while `locked`). */
  holder: Hold.Hold | undefined = undefined
  readonly waiters = new WaitList<Waiter>()
  acquired = 0
  contended = 0
  /** For KeyedMutex: the key and a hook called when the lock becomes free with nobody waiting. */
  key: unknown = undefined
  idle: ((core: MutexCore) => void) | undefined = undefined
  readonly metrics: LockMetrics | undefined

  constructor(metrics: LockMetrics | undefined) {
    this.metrics = metrics
  }

  private releaseEffectCache: Effect.Effect<void> | undefined = undefined
  /** The release as an Effect, for scope finalizers (made on first use: most per-key locks never need it). */
  get releaseEffect(): Effect.Effect<void> {
    return this.releaseEffectCache ??= Effect.sync(() => this.release())
  }

  /** Hands the lock to the longest waiter, or frees it. */
  release(): void {
    const held = this.holder
    if (held !== undefined) held.active = false
    const next = this.waiters.shift()
    if (next === undefined) {
      this.locked = false
      this.holder = undefined
      if (this.metrics !== undefined) this.metrics.freed()
      if (this.idle !== undefined) this.idle(this)
      return
    }
    // Handed over: still held, one waiter fewer.
    if (this.metrics !== undefined) this.metrics.queued(-1)
    const hold = next.hold!
    hold.active = true
    this.holder = hold
    next.grant()
  }

  /** The hold `fiber` holds the lock with: it took the lock, or was forked inside the section. */
  holdOf(fiber: Fiber.Fiber<unknown, unknown>): Hold.Hold | undefined {
    const holder = this.holder
    if (!this.locked || holder === undefined) return undefined
    return holder.fiberId === fiber.id || Hold.inContext(fiber, holder) ? holder : undefined
  }

  tryTake(hold: Hold.Hold): boolean {
    if (this.locked) return false
    this.locked = true
    hold.active = true
    this.holder = hold
    this.acquired++
    if (this.metrics !== undefined) this.metrics.took()
    return true
  }

  /** Called when a wait ended with a failure (an interruption): leave the queue, or give back a grant not seen. */
  abandon(waiter: Waiter): void {
    if (waiter.state === GRANTED) {
      waiter.state = DONE
      this.release()
    } else if (waiter.state === WAITING) {
      waiter.state = DONE
      if (waiter.node !== undefined) this.waiters.remove(waiter.node)
      waiter.node = undefined
      if (this.metrics !== undefined) this.metrics.queued(-1)
    }
  }

  /**
   * Takes the lock for `fiber` with `hold`, waiting in FIFO order if it is held. Evaluate while uninterruptible;
   * the wait itself runs under `restore`.
   */
  acquire(
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    reentry: () => unknown,
    hold: Hold.Hold
  ): Effect.Effect<void> {
    if (this.tryTake(hold)) return Effect.void
    if (this.holdOf(fiber) !== undefined) return Effect.die(reentry())
    const waiter = new Waiter(fiber)
    waiter.hold = hold
    waiter.node = this.waiters.push(waiter)
    if (this.metrics !== undefined) {
      waiter.since = nowMillis(fiber)
      this.metrics.queued(1)
    }
    return Effect.onExitPrimitive(restore(waiter.await), (exit: Exit.Exit<void>) => {
      if (exit._tag === "Success") {
        waiter.state = DONE
        this.acquired++
        this.contended++
        if (this.metrics !== undefined) this.metrics.acquiredAfter(nowMillis(fiber) - waiter.since)
      } else {
        this.abandon(waiter)
      }
      return undefined
    }, true)
  }

  /** Runs `effect` (already under `restore`) as the section of `hold`: the hold is in its context. */
  private section<A, E, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    hold: Hold.Hold,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> {
    const previous = Hold.enter(fiber, hold)
    return Effect.onExitPrimitive(effect, () => {
      fiber.setContext(previous)
      this.release()
      return undefined
    }, true)
  }

  /** Runs `effect` holding the lock. Evaluate while uninterruptible. */
  run<A, E, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    effect: Effect.Effect<A, E, R>,
    reentry: () => unknown
  ): Effect.Effect<A, E, R> {
    const hold = Hold.make(fiber, this, Hold.EXCLUSIVE)
    if (this.tryTake(hold)) return this.section(fiber, hold, restore(effect))
    return Effect.flatMap(
      this.acquire(fiber, restore, reentry, hold),
      () => this.section(fiber, hold, restore(effect))
    )
  }

  /** Runs `effect` if the lock is free now. Evaluate while uninterruptible. */
  runIfAvailable<A, E, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    effect: Effect.Effect<A, E, R>,
    reentry: () => unknown
  ): Effect.Effect<Option.Option<A>, E, R> {
    const hold = Hold.make(fiber, this, Hold.EXCLUSIVE)
    if (this.tryTake(hold)) return this.section(fiber, hold, restore(Effect.asSome(effect)))
    if (this.holdOf(fiber) !== undefined) return Effect.die(reentry())
    return Effect.succeedNone
  }

  /**
   * Takes the lock and releases it when `scope` closes. Evaluate while uninterruptible. The hold goes in the
   * fiber's context for the rest of its run (where it is harmless once released).
   */
  scoped(
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    scope: Scope.Scope,
    reentry: () => unknown
  ): Effect.Effect<void> {
    const hold = Hold.make(fiber, this, Hold.EXCLUSIVE)
    if (this.tryTake(hold)) {
      Hold.enter(fiber, hold)
      return Scope.addFinalizer(scope, this.releaseEffect)
    }
    return Effect.flatMap(this.acquire(fiber, restore, reentry, hold), () => {
      Hold.enter(fiber, hold)
      return Scope.addFinalizer(scope, this.releaseEffect)
    })
  }
}

const reentry = (): MutexReentryError => new MutexReentryError()

class MutexImpl extends MutexCore implements Mutex {
  readonly withLock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => Effect.withFiber((fiber) => this.run(fiber, restore, effect, reentry)))

  readonly withLockIfAvailable = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) => this.runIfAvailable(fiber, restore, effect, reentry))
    )

  readonly lockScoped: Effect.Effect<void, never, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.scope, (scope) => Effect.withFiber((fiber) => this.scoped(fiber, restore, scope, reentry)))
  )

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    locked: this.locked,
    waiting: this.waiters.length,
    acquired: this.acquired,
    contended: this.contended
  }))
}

/** @internal */
export const isMutex = (u: unknown): u is Mutex => u instanceof MutexImpl

/** @internal */
export const makeUnsafe = (options?: Options): Mutex =>
  Registry.trackUnsafe("Mutex", options, Context.empty(), new MutexImpl(lockMetrics("Mutex", options, Context.empty())))

/** @internal */
export const makeWith = (options: Options): Effect.Effect<Mutex> =>
  Effect.withFiber((fiber) =>
    Effect.succeed(
      Registry.trackUnsafe("Mutex", options, fiber.context, new MutexImpl(lockMetrics("Mutex", options, fiber.context)))
    )
  )

/** @internal */
export const make: Effect.Effect<Mutex> = Effect.sync(() => new MutexImpl(undefined))

/** @internal */
export const coreOf = (mutex: Mutex): MutexCore => {
  if (mutex instanceof MutexImpl) return mutex
  throw new TypeError("Condition.make: the mutex must come from Mutex.make or Mutex.makeUnsafe")
}
