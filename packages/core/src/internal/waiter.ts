/**
 * One fiber parked on a lock, a limiter or a condition, and the grant protocol they all share. A grant is made in
 * the primitive's state at once (the lock or permit is counted as held) and the fiber is resumed on its own
 * scheduler on its next turn, never inline: a release never runs another fiber's code inside the releasing fiber,
 * however long the chain of waiters.
 *
 * The fiber may be interrupted after it was granted and before it ran again (the lost-permit race): the code that
 * parks it looks at `state` when the wait ends with a failure, and gives back (or passes on) a grant it never
 * observed, so nothing is lost.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { Hold } from "./hold.ts"
import type { Node } from "./waitList.ts"

/** @internal */
export const WAITING = 0
/** @internal */
export const GRANTED = 1
/** @internal */
export const DONE = 2

/** @internal */
export class Waiter {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  node: Node<any> | undefined = undefined
  state: typeof WAITING | typeof GRANTED | typeof DONE = WAITING
  /** The lock holding a grant gives this waiter (locks only). */
  hold: Hold | undefined = undefined
  /** When the wait began, in milliseconds on the fiber's clock (read only when metrics are on). */
  since = 0
  private resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  /** Suspends until granted. */
  readonly await: Effect.Effect<void>

  constructor(fiber: Fiber.Fiber<unknown, unknown>) {
    this.fiber = fiber
    this.await = Effect.callback<void>((resume) => {
      if (this.state === GRANTED) resume(Effect.void)
      else this.resume = resume
    })
  }

  /** Marks the waiter granted (it already left its list) and resumes it on its next scheduler turn. */
  grant(): void {
    this.state = GRANTED
    this.node = undefined
    this.fiber.currentDispatcher.scheduleTask(this.wake, 0)
  }

  private readonly wake = (): void => {
    const resume = this.resume
    this.resume = undefined
    if (resume !== undefined && this.state === GRANTED) resume(Effect.void)
  }
}

/**
 * The current time on a fiber's clock, in (fractional) milliseconds, from the nanosecond reading (wait times for
 * metrics).
 *
 * @internal
 */
export const nowMillis = (fiber: Fiber.Fiber<unknown, unknown>): number =>
  Number(fiber.getRef(Clock.Clock).currentTimeNanosUnsafe()) / 1_000_000
