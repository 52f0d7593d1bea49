/**
 * The in-process election (a FIFO semaphore of one per key, dropped when unused) and the singleton loop.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type { Election, Stats } from "../Election.ts"
import { isLeaseLostError, type LeaseLostError } from "../Election.ts"

interface Slot {
  readonly semaphore: Semaphore.Semaphore
  users: number
  leading: boolean
}

/** @internal */
export const makeLocal = (): Election => {
  const slots = new Map<string, Slot>()
  let acquired = 0
  const enter = (key: string): Slot => {
    let slot = slots.get(key)
    if (slot === undefined) {
      slot = { semaphore: Semaphore.makeUnsafe(1), users: 0, leading: false }
      slots.set(key, slot)
    }
    slot.users++
    return slot
  }
  const leave = (key: string, slot: Slot) => {
    slot.users--
    if (slot.users === 0) slots.delete(key)
  }
  return {
    withLeadership: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(
        Effect.sync(() => enter(key)),
        (slot) =>
          slot.semaphore.withPermits(1)(Effect.suspend(() => {
            slot.leading = true
            acquired++
            return Effect.ensuring(effect, Effect.sync(() => (slot.leading = false)))
          })),
        (slot) => Effect.sync(() => leave(key, slot))
      ) as Effect.Effect<A, E | LeaseLostError, R>,
    stats: Effect.sync((): Stats => {
      const leading: Array<string> = []
      const campaigning: Array<string> = []
      for (const [key, slot] of slots) {
        if (slot.leading) leading.push(key)
        if (slot.users > (slot.leading ? 1 : 0)) campaigning.push(key)
      }
      return { backend: "local", leading, campaigning, acquired, lost: 0 }
    })
  }
}

/** @internal */
export const defaultLocal: Election = makeLocal()

/** @internal */
export const runSingleton = <A, E, R>(
  key: string,
  effect: Effect.Effect<A, E, R>,
  withLeadership: (key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LeaseLostError, R>
): Effect.Effect<A, E, R> => {
  const loop: Effect.Effect<A, E, R> = withLeadership(key, effect).pipe(
    Effect.catchIf(
      (e): e is LeaseLostError => isLeaseLostError(e),
      (e) => Effect.andThen(Effect.logWarning(`Singleton ${key}: ${e.message}; campaigning again`), loop)
    )
  ) as Effect.Effect<A, E, R>
  return loop
}
