/**
 * Helpers shared by the core tests (tests only, not a public module): forking a fiber that runs at once, reading an
 * exit, and the seeded interruption schedules of the property tests (`runRandomCallers` is the admission tests' run). The random helpers draw from the `Random` in the
 * same order as the loops they replaced, so each seed still explores the same schedule.
 */
import { type Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
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

/** What {@link runRandomCallers} does around each caller, and the events it adds. */
export interface RandomCallersOptions<E> {
  /** Runs when a caller's call succeeds (before it interrupts its victim, in the same step). */
  readonly onCompleted?: (() => void) | undefined
  /** Runs when a caller's call fails (with the call's typed error). */
  readonly onFailure?: ((error: E) => void) | undefined
  /** Runs when a caller is interrupted, wherever it was (arriving, waiting, holding). */
  readonly onInterrupt?: (() => void) | undefined
  /** More events to run with the random interruptions (a resize): drawn after them, run alongside them. */
  readonly events?: (() => Array<Effect.Effect<void>>) | undefined
}

/**
 * The randomised-interruption property run shared by the admission tests (Bulkhead, Limiter, KeyedLimiter,
 * adaptive Limiter), on virtual time under `LeakCheck.fibers`: 4 to 19 callers, each arriving after a random time
 * in `[0, 40)` ms and running `call(hold)` with a random `hold` in `[0, 20)` ms (a call may draw more from `random`:
 * a key, a failure). 30% of the callers, when their call succeeds, interrupt another caller in the same step, which
 * hits a waiter just handed the permit before it could observe the grant; up to `callers - 1` more interruptions
 * land at random times in `[0, 60)` ms. It returns once every caller has ended: a lost permit would hang it.
 */
export const runRandomCallers = <E>(
  random: Chaos.Random,
  call: (hold: number) => Effect.Effect<void, E>,
  options: RandomCallersOptions<E> = {}
) => {
  const run = Effect.gen(function*() {
    const fibers: Array<Fiber.Fiber<void>> = []
    const callers = 4 + random.int(16)
    for (let c = 0; c < callers; c++) {
      const arrive = random.int(40)
      const work = call(random.int(20))
      const victim = random.chance(0.3) ? random.int(callers) : undefined
      const caller = Effect.sleep(arrive).pipe(
        Effect.andThen(work),
        Effect.matchEffect({
          onSuccess: () =>
            Effect.sync(() => {
              options.onCompleted?.()
              if (victim !== undefined) fibers[victim]?.interruptUnsafe()
            }),
          onFailure: (error) => Effect.sync(() => options.onFailure?.(error))
        }),
        Effect.onInterrupt(() => Effect.sync(() => options.onInterrupt?.()))
      )
      fibers.push(yield* Effect.forkChild(caller))
    }
    const events = randomInterruptions(random, fibers, random.int(callers), 60)
    if (options.events !== undefined) events.push(...options.events())
    yield* Effect.all(events, { concurrency: "unbounded", discard: true })
    yield* Fiber.awaitAll(fibers)
  })
  return LeakCheck.fibers(VirtualTime.autojump(run))
}
