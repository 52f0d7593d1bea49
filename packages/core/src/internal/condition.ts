/** @internal */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import type { Condition, Options, Stats } from "../Condition.ts"
import { LockNotHeldError } from "../Condition.ts"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { Mutex } from "../Mutex.ts"
import { MutexReentryError } from "../Mutex.ts"
import * as Instruments from "./metrics.ts"
import type { MutexCore } from "./mutex.ts"
import { coreOf, makeUnsafe as makeMutex } from "./mutex.ts"
import * as Registry from "./registry.ts"
import { DONE, GRANTED, Waiter, WAITING } from "./waiter.ts"
import { WaitList } from "./waitList.ts"

const reentry = (): MutexReentryError => new MutexReentryError()

class ConditionImpl implements Condition {
  readonly mutex: Mutex
  readonly core: MutexCore
  readonly waiters = new WaitList<Waiter>()
  /** Reports `waiting` (fibers waiting to be notified), when on. */
  readonly metrics: Instruments.Instruments | undefined

  constructor(mutex: Mutex, metrics: Instruments.Instruments | undefined) {
    this.mutex = mutex
    this.core = coreOf(mutex)
    this.metrics = metrics
    if (metrics !== undefined) metrics.setWaiting(0)
  }

  private held(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return this.core.holdOf(fiber) !== undefined
  }

  /** Wakes up to `n` of the longest waiters, in order. */
  private wakeUnsafe(n: number): void {
    for (let i = 0; i < n; i++) {
      const next = this.waiters.shift()
      if (next === undefined) break
      next.grant()
    }
    if (this.metrics !== undefined) this.metrics.setWaiting(this.waiters.length)
  }

  readonly withLock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => this.mutex.withLock(effect)

  readonly wait: Effect.Effect<void> = Effect.uninterruptibleMask((restore) =>
    Effect.withFiber((fiber) => {
      // The hold of the section this fiber is in: the fiber took the lock, or was forked inside the section (the
      // fiber Effect.timeout or Deadline.within runs the wait in). The lock is taken back with the same hold, so the
      // section (and its release) carries on as if the wait had run in the fiber that took the lock.
      const hold = this.core.holdOf(fiber)
      if (hold === undefined) return Effect.die(new LockNotHeldError({ operation: "wait" }))
      const waiter = new Waiter(fiber)
      waiter.node = this.waiters.push(waiter)
      if (this.metrics !== undefined) this.metrics.setWaiting(this.waiters.length)
      this.core.release()
      return Effect.flatMap(Effect.exit(restore(waiter.await)), (exit: Exit.Exit<void>) => {
        if (exit._tag === "Failure") {
          // Interrupted. A notification this waiter got but never observed goes to the next waiter (Python 3.13
          // does the same), so an interruption cannot swallow a notify(1).
          if (waiter.state === GRANTED) this.wakeUnsafe(1)
          else if (waiter.state === WAITING && waiter.node !== undefined) {
            this.waiters.remove(waiter.node)
            if (this.metrics !== undefined) this.metrics.setWaiting(this.waiters.length)
          }
          waiter.state = DONE
          // Take the lock back before the interruption propagates, uninterruptibly: the caller's finalizers inside
          // withLock run with the lock held, as in asyncio.
          return Effect.andThen(this.core.acquire(fiber, identity, reentry, hold), exit)
        }
        waiter.state = DONE
        // Notified. Taking the lock back may wait (interruptibly); an interruption there means `wait` does not
        // return normally, so the notification passes to the next waiter (asyncio 3.13: any exception leaving
        // `wait`), and the lock is taken back uninterruptibly before the interruption propagates.
        return Effect.flatMap(Effect.exit(this.core.acquire(fiber, restore, reentry, hold)), (relock) => {
          if (relock._tag === "Success") return Effect.void
          this.wakeUnsafe(1)
          return Effect.andThen(this.core.acquire(fiber, identity, reentry, hold), relock)
        })
      })
    })
  )

  readonly waitFor: Condition["waitFor"] = (<E, R>(
    predicate: Effect.Effect<boolean, E, R> | (() => boolean)
  ): Effect.Effect<void, E, R> => {
    const check: Effect.Effect<boolean, E, R> = Effect.isEffect(predicate) ? predicate : Effect.sync(predicate)
    const loop: Effect.Effect<void, E, R> = Effect.flatMap(
      check,
      (ok) => ok ? Effect.void : Effect.flatMap(this.wait, () => loop)
    )
    return Effect.withFiber((fiber) =>
      this.held(fiber) ? loop : Effect.die(new LockNotHeldError({ operation: "waitFor" }))
    )
  }) as Condition["waitFor"]

  readonly notify: {
    (): Effect.Effect<void>
    (n: number): Effect.Effect<void, InvalidOptionError>
  } = ((n?: number) => {
    const run = (count: number) =>
      Effect.withFiber((fiber) => {
        if (!this.held(fiber)) return Effect.die(new LockNotHeldError({ operation: "notify" }))
        this.wakeUnsafe(count)
        return Effect.void
      })
    if (n === undefined) return run(1)
    return Effect.flatMap(Effect.fromResult(InvalidOption.int("Condition.notify", "n", n, { min: 1 })), run)
  }) as any

  readonly notifyAll: Effect.Effect<void> = Effect.withFiber((fiber) => {
    if (!this.held(fiber)) return Effect.die(new LockNotHeldError({ operation: "notifyAll" }))
    this.wakeUnsafe(this.waiters.length)
    return Effect.void
  })

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({ waiting: this.waiters.length }))
}

/** The arguments of `make`: `(options?)` or `(mutex, options?)`. */
const parse = (
  first: Mutex | Options | undefined,
  second: Options | undefined
): { readonly mutex: Mutex | undefined; readonly options: Options | undefined } =>
  first !== undefined && first !== null && "withLock" in first
    ? { mutex: first, options: second }
    : { mutex: undefined, options: first ?? second }

const build = (
  first: Mutex | Options | undefined,
  second: Options | undefined,
  context: Context.Context<never>
): Condition => {
  const { mutex, options } = parse(first, second)
  const condition = new ConditionImpl(mutex ?? makeMutex(), Instruments.makeUnsafe("Condition", options, context))
  return Registry.trackUnsafe("Condition", options, context, condition)
}

/** @internal */
export const makeUnsafe = (first?: Mutex | Options, second?: Options): Condition =>
  build(first, second, Context.empty())

/** @internal */
export const make = (first?: Mutex | Options, second?: Options): Effect.Effect<Condition> =>
  Effect.withFiber((fiber) => Effect.succeed(build(first, second, fiber.context)))

/** @internal */
export const isCondition = (u: unknown): u is Condition => u instanceof ConditionImpl
