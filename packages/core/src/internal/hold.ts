/**
 * Lock ownership that survives Effect's forking combinators. A lock held by `withLock` is recorded as a `Hold` in the
 * fiber's context (a `Context.Reference`), so every fiber forked while it is held inherits it: the child fibers that
 * `Effect.timeout`, `Effect.race`, `Deadline.within` or `Effect.forkChild` run the work in act for the holder
 * (`Condition.wait`/`notify` work there, and taking the lock again dies with the re-entry error instead of
 * deadlocking). A hold stays in a context after its lock was released, but it is no longer active (no longer the
 * lock's holder), so a fiber that outlives the section owns nothing.
 *
 * The fiber that took the lock is also recorded (`fiberId`), so the fiber itself is an owner whatever its context
 * (a `lockScoped` whose context was later restored by an enclosing `provideService`).
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"

/** @internal */
export const EXCLUSIVE = 0
/** @internal */
export const READ = 1
/** @internal */
export const WRITE = 2

/** @internal */
export type Mode = typeof EXCLUSIVE | typeof READ | typeof WRITE

/**
 * One holding of one lock, by the fiber that took it and every fiber forked while it lasts.
 *
 * @internal
 */
export class Hold {
  readonly lock: object
  readonly mode: Mode
  /**
   * The context this hold was taken in: the holds it is nested in are that context's (read only when a chain is
   * walked, so taking a lock does not pay for the lookup).
   */
  readonly context: Context.Context<never>
  /** The fiber that took the lock with this hold. */
  readonly fiberId: number
  /** Whether the lock is held with this hold now. */
  active = false

  constructor(lock: object, mode: Mode, context: Context.Context<never>, fiberId: number) {
    this.lock = lock
    this.mode = mode
    this.context = context
    this.fiberId = fiberId
  }
}

/**
 * The holds of the current fiber and of the fibers it was forked from (innermost first). A `Context.Reference`, so
 * forked fibers inherit it.
 *
 * @internal
 */
export const CurrentHolds: Context.Reference<Hold | undefined> = Context.Reference<Hold | undefined>(
  "@async-ops/core/CurrentHolds",
  { defaultValue: () => undefined }
)

/** A new, not yet active hold of `lock` for `fiber`, nested in the holds of its context. */
export const make = (fiber: Fiber.Fiber<unknown, unknown>, lock: object, mode: Mode): Hold =>
  new Hold(lock, mode, fiber.context, fiber.id)

const outer = (hold: Hold): Hold | undefined => Context.get(hold.context, CurrentHolds)

/** Whether `hold` is in `fiber`'s context (the fiber took it or was forked while it was held). */
export const inContext = (fiber: Fiber.Fiber<unknown, unknown>, hold: Hold): boolean => {
  for (let h = fiber.getRef(CurrentHolds); h !== undefined; h = outer(h)) {
    if (h === hold) return true
  }
  return false
}

/** The active hold of `lock` in `fiber`'s context, if any (for locks with several holders: RWLock readers). */
export const activeIn = (fiber: Fiber.Fiber<unknown, unknown>, lock: object): Hold | undefined => {
  for (let h = fiber.getRef(CurrentHolds); h !== undefined; h = outer(h)) {
    if (h.active && h.lock === lock) return h
  }
  return undefined
}

/**
 * Puts `hold` in `fiber`'s context and returns the context to restore when the section ends. Call inside
 * `withFiber`, with the section's exit handler restoring the returned context (as `Effect.provideService` does).
 */
export const enter = (fiber: Fiber.Fiber<unknown, unknown>, hold: Hold): Context.Context<never> => {
  const previous = fiber.context
  fiber.setContext(Context.add(previous, CurrentHolds, hold))
  return previous
}
