/**
 * Helpers shared by the core tests (tests only, not a public module): forking a fiber that runs at once, reading an
 * exit, and the seeded interruption schedules of the property tests. The random helpers draw from the `Random` in the
 * same order as the loops they replaced, so each seed still explores the same schedule.
 */
import type { Chaos } from "@async-ops/testing"
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"

/** Forks `effect` and runs it at once, so it is parked (on a lock, queue, barrier...) when this returns. */
export const start = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Fiber.Fiber<A, E>> =>
  Effect.forkChild(effect, { startImmediately: true })

/** Whether `exit` is an interruption and nothing else. */
export const isInterrupted = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)

/** The defect `exit` died with, if any. */
export const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? exit.cause.reasons.find(Cause.isDieReason)?.defect : undefined

/** Lets the fibers that are ready run (ten scheduler turns), without moving the clock. */
export const settle: Effect.Effect<void> = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

/**
 * Starts `withPermit(wait for release)` at once (so it holds or waits when this returns) and returns its fiber and
 * the effect that lets it finish.
 */
export const holdUntilReleased = <E>(withPermit: (effect: Effect.Effect<void>) => Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const release = yield* Deferred.make<void>()
    const fiber = yield* start(withPermit(Deferred.await(release)))
    return { release: Deferred.succeed(release, undefined), fiber }
  })

/**
 * `count` interruptions of fibers picked at random from `fibers`, each after a random virtual time in
 * `[0, within)` ms (drawn victim first, then time), to run together with `Effect.all` or to fork one by one.
 */
export const randomInterruptions = (
  random: Chaos.Random,
  fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>,
  count: number,
  within: number
): Array<Effect.Effect<void>> =>
  Array.from({ length: count }, () => {
    const victim = random.pick(fibers)
    return Effect.andThen(Effect.sleep(random.int(within)), Fiber.interrupt(victim))
  })

/**
 * What a fiber does right after its operation, in the same scheduler turn: with probability `probability`, interrupt
 * a fiber picked at random from `fibers` (drawn when it runs) unless it picked itself (`fibers[self]`). Run right
 * after a release, it hits the waiter the lock was just handed to before it could observe the grant.
 */
export const maybeInterruptAnother = (
  random: Chaos.Random,
  fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>,
  self: number,
  probability: number
): Effect.Effect<void> =>
  random.chance(probability)
    ? Effect.suspend(() => {
      const victim = random.pick(fibers)
      return victim === fibers[self] ? Effect.void : Fiber.interrupt(victim)
    })
    : Effect.void

/**
 * Forks, for each fiber in turn, an interrupter that sleeps `at()` ms and then interrupts it (none when `at()` is
 * undefined); awaits the fibers, then the interrupters, and returns the fibers' exits in order.
 */
export const awaitWithInterrupters = <A, E>(
  fibers: ReadonlyArray<Fiber.Fiber<A, E>>,
  at: () => number | undefined
): Effect.Effect<Array<Exit.Exit<A, E>>> =>
  Effect.gen(function*() {
    const interrupters: Array<Fiber.Fiber<void>> = []
    for (const fiber of fibers) {
      const millis = at()
      if (millis !== undefined) {
        interrupters.push(yield* Effect.forkChild(Effect.andThen(Effect.sleep(millis), Fiber.interrupt(fiber))))
      }
    }
    const exits = yield* Effect.forEach(fibers, Fiber.await)
    yield* Fiber.joinAll(interrupters)
    return exits
  })
