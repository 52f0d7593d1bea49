/** @internal */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type {
  Counts,
  Defect,
  Failure,
  Interrupted,
  NotRun,
  Options,
  Outcome,
  Settled,
  Success,
  TimedOut
} from "../Gather.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import * as validate from "./options.ts"

/** Options after validation. */
interface Config {
  /** `Infinity` when unbounded. */
  readonly concurrency: number
  readonly maxFailures: number | undefined
  /** `undefined` when there is no budget (absent or infinite). */
  readonly timeout: Duration.Duration | undefined
  readonly catchDefects: boolean
}

const validateOptions = (module: string, options: Options | undefined): Effect.Effect<Config, InvalidOptionError> =>
  Effect.gen(function*() {
    const concurrency = yield* validate.concurrency(module, options?.concurrency)
    const maxFailures = yield* validate.positiveInt(module, "maxFailures", options?.maxFailures)
    const timeout = yield* validate.duration(module, "timeout", options?.timeout)
    return {
      concurrency,
      maxFailures,
      timeout: timeout !== undefined && Duration.isFinite(timeout) ? timeout : undefined,
      catchDefects: options?.catchDefects === true
    }
  })

const toArray = <I>(items: Iterable<I>): ReadonlyArray<I> => Array.isArray(items) ? items : Array.from(items)

/**
 * Calls the user's function. A throw is a defect, exactly as `Effect.suspend(() => f(item, index))` would make it;
 * calling `f` directly lets an item that is already an `Exit` (`Effect.succeed`, `Effect.fail`) be recorded without
 * a fiber, as `Effect.forEach` does.
 */
const invoke = <I, A, E, R>(
  f: (item: I, index: number) => Effect.Effect<A, E, R>,
  item: I,
  index: number
): Effect.Effect<A, E, R> => {
  try {
    return f(item, index)
  } catch (defect) {
    return Exit.die(defect)
  }
}

/**
 * The engine behind `settle` and `asCompleted`. The calling fiber dispatches: it forks one fiber per item, at most
 * `concurrency` at a time, and each item fiber's observer records the outcome and wakes the dispatcher, so handing a
 * slot to the next item is O(1) (no waiter is parked on a semaphore). Each item runs in a fiber of its own, so what an
 * item forks with `forkChild` ends with the item, as with `Effect.forEach`.
 *
 * Returns one outcome per input in input order, and calls `emit` with each outcome as it is decided (completion
 * order, then the unfinished ones in input order). Fails with the defects of an item when `catchDefects` is off.
 */
const runBatch = <I, A, E, R>(
  items: ReadonlyArray<I>,
  f: (item: I, index: number) => Effect.Effect<A, E, R>,
  config: Config,
  emit: ((outcome: Outcome<I, A, E>) => void) | undefined
): Effect.Effect<ReadonlyArray<Outcome<I, A, E>>, never, R> =>
  Effect.uninterruptibleMask((restore) => {
    const n = items.length
    const outcomes: Array<Outcome<I, A, E> | undefined> = Array.from({ length: n })
    const running = new Set<Fiber.Fiber<A, E>>()
    let next = 0
    let failures = 0
    let stop: "MaxFailures" | "TimedOut" | undefined
    let defect: Cause.Cause<never> | undefined
    let timer: Fiber.Fiber<void> | undefined
    // Wake-up of the dispatcher: `dirty` is set by every event, so an event that lands between the dispatcher's
    // look at the state and its wait is not lost.
    let dirty = false
    let wake: ((effect: Effect.Effect<void>) => void) | undefined

    const signal = (): void => {
      dirty = true
      const resume = wake
      if (resume !== undefined) {
        wake = undefined
        resume(Effect.void)
      }
    }
    const awaitSignal = restore(Effect.callback<void>((resume) => {
      if (dirty) resume(Effect.void)
      else wake = resume
    }))
    const halted = (): boolean => stop !== undefined || defect !== undefined

    const decide = (outcome: Outcome<I, A, E>): void => {
      outcomes[outcome.index] = outcome
      if (emit !== undefined) emit(outcome)
    }

    const record = (index: number, exit: Exit.Exit<A, E>): void => {
      if (outcomes[index] !== undefined) return
      const input = items[index] as I
      if (exit._tag === "Success") {
        return decide({ _tag: "Success", index, input, value: exit.value } satisfies Success<I, A>)
      }
      const reasons = exit.cause.reasons
      const die = reasons.find(Cause.isDieReason)
      if (die !== undefined) {
        if (config.catchDefects) {
          return decide({ _tag: "Defect", index, input, defect: die.defect } satisfies Defect<I>)
        }
        defect ??= Cause.fromReasons(reasons.filter(Cause.isDieReason))
        return signal()
      }
      const fail = reasons.find(Cause.isFailReason)
      if (fail !== undefined) {
        decide({ _tag: "Failure", index, input, error: fail.error } satisfies Failure<I, E>)
        failures++
        if (stop === undefined && config.maxFailures !== undefined && failures >= config.maxFailures) {
          stop = "MaxFailures"
          signal()
        }
        return
      }
      // Interrupted: by the batch (maxFailures or timeout) or by the item itself.
      return decide(
        stop === "TimedOut"
          ? { _tag: "TimedOut", index, input, started: true } satisfies TimedOut<I>
          : { _tag: "Interrupted", index, input } satisfies Interrupted<I>
      )
    }

    const observe = (index: number, fiber: Fiber.Fiber<A, E>): void => {
      running.add(fiber)
      fiber.addObserver((exit) => {
        running.delete(fiber)
        record(index, exit)
        signal()
      })
    }

    // Starts items until the limit is reached, in one synchronous pass (no Effect step per item): each item gets a
    // fiber of its own with the dispatcher's services, started at once; one that ends without suspending is
    // recorded on the spot, as Effect.forEach does, and the others are watched.
    const launch = Effect.withFiber((dispatcher) => {
      const start = Effect.runForkWith(dispatcher.context as Context.Context<R>)
      while (running.size < config.concurrency && next < n && !halted()) {
        const index = next++
        const effect = invoke(f, items[index] as I, index)
        if (Exit.isExit(effect)) {
          record(index, effect as Exit.Exit<A, E>)
          continue
        }
        const fiber = start(effect)
        const exit = fiber.pollUnsafe()
        if (exit !== undefined) record(index, exit)
        else observe(index, fiber)
      }
      return Effect.void
    })

    const dispatch = Effect.gen(function*() {
      if (config.timeout !== undefined) {
        if (Duration.isZero(config.timeout)) {
          stop = "TimedOut"
        } else {
          timer = yield* Effect.forkChild(
            Effect.andThen(
              Effect.sleep(config.timeout),
              Effect.sync(() => {
                if (stop === undefined) {
                  stop = "TimedOut"
                  signal()
                }
              })
            ),
            { startImmediately: true }
          )
        }
      }
      while (!halted()) {
        dirty = false
        yield* launch
        if (halted() || (next >= n && running.size === 0)) break
        yield* awaitSignal
      }
      if (running.size > 0) yield* Fiber.interruptAll(Array.from(running))
      if (defect !== undefined) return yield* Effect.failCause(defect)
      for (let index = 0; index < n; index++) {
        if (outcomes[index] !== undefined) continue
        const input = items[index] as I
        decide(
          stop === "TimedOut"
            ? { _tag: "TimedOut", index, input, started: index < next } satisfies TimedOut<I>
            : index < next
            ? { _tag: "Interrupted", index, input } satisfies Interrupted<I>
            : { _tag: "NotRun", index, input } satisfies NotRun<I>
        )
      }
      return outcomes as ReadonlyArray<Outcome<I, A, E>>
    })

    // Whatever ends the batch (done, stopped, a defect, the caller's interruption), no item or timer outlives it.
    const cleanup = Effect.suspend(() => {
      const fibers: Array<Fiber.Fiber<unknown, unknown>> = Array.from(running)
      if (timer !== undefined) fibers.push(timer)
      return fibers.length === 0 ? Effect.void : Fiber.interruptAll(fibers)
    })

    return Effect.ensuring(dispatch, cleanup)
  })

const toSettled = <I, A, E>(outcomes: ReadonlyArray<Outcome<I, A, E>>): Settled<I, A, E> => {
  const successes: Array<Success<I, A>> = []
  const failures: Array<Failure<I, E>> = []
  let defect = 0
  let interrupted = 0
  let notRun = 0
  let timedOut = 0
  for (const outcome of outcomes) {
    switch (outcome._tag) {
      case "Success":
        successes.push(outcome)
        break
      case "Failure":
        failures.push(outcome)
        break
      case "Defect":
        defect++
        break
      case "Interrupted":
        interrupted++
        break
      case "NotRun":
        notRun++
        break
      case "TimedOut":
        timedOut++
        break
    }
  }
  const counts: Counts = {
    total: outcomes.length,
    success: successes.length,
    failure: failures.length,
    defect,
    interrupted,
    notRun,
    timedOut
  }
  return { outcomes, successes, failures, counts }
}

/** @internal */
export const settle = <I, A, E, R>(
  items: Iterable<I>,
  f: (item: I, index: number) => Effect.Effect<A, E, R>,
  options?: Options
): Effect.Effect<Settled<I, A, E>, InvalidOptionError, R> =>
  Effect.gen(function*() {
    const config = yield* validateOptions("Gather.settle", options)
    const array = toArray(items)
    if (array.length === 0) return toSettled<I, A, E>([])
    return toSettled(yield* runBatch(array, f, config, undefined))
  }).pipe(Effect.withSpan("Gather.settle"))

/** @internal */
export const asCompleted = <I, A, E, R>(
  items: Iterable<I>,
  f: (item: I, index: number) => Effect.Effect<A, E, R>,
  options?: Options
): Stream.Stream<Outcome<I, A, E>, InvalidOptionError, R> =>
  Stream.callback<Outcome<I, A, E>, InvalidOptionError, R>((queue) =>
    Effect.gen(function*() {
      const config = yield* validateOptions("Gather.asCompleted", options)
      const array = toArray(items)
      if (array.length > 0) {
        yield* runBatch(array, f, config, (outcome) => {
          Queue.offerUnsafe(queue, outcome)
        })
      }
      yield* Queue.end(queue)
    })
  ).pipe(Stream.withSpan("Gather.asCompleted"))
