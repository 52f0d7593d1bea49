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
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"

/**
 * `Exit.isExit`, with a cheap look at `_tag` first: most effects are not exits, and `Exit.isExit` (a dual
 * `hasProperty`) showed up at 3% of a 100,000-item batch's profile.
 */
const isExitFast = (effect: Effect.Effect<unknown, unknown, unknown>): effect is Exit.Exit<unknown, unknown> => {
  const tag = (effect as { readonly _tag?: unknown })._tag
  return (tag === "Success" || tag === "Failure") && Exit.isExit(effect)
}

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
    const concurrency = yield* Effect.fromResult(InvalidOption.concurrency(module, options?.concurrency))
    const maxFailures = options?.maxFailures === undefined
      ? undefined
      : yield* Effect.fromResult(InvalidOption.int(module, "maxFailures", options.maxFailures, { min: 1 }))
    const timeout = options?.timeout === undefined
      ? undefined
      : yield* Effect.fromResult(InvalidOption.duration(module, "timeout", options.timeout))
    return {
      concurrency,
      maxFailures,
      timeout: timeout !== undefined && Duration.isFinite(timeout) ? timeout : undefined,
      catchDefects: options?.catchDefects === true
    }
  })

/** @internal What the batch engine holds, for tests: outcome records it references, outcomes decided. */
export interface BatchProbe {
  retained: number
  decided: number
}

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

/** Outcomes counted by kind while a batch runs, so that `counts` needs no pass over the outcomes. */
interface Tally {
  success: number
  failure: number
  defect: number
  interrupted: number
  notRun: number
  timedOut: number
}

/**
 * How far `asCompleted`'s consumer is behind: outcomes handed to the stream and outcomes it has taken. The batch
 * counts the difference against `concurrency`, and the consumer wakes the batch (`wake`) as it takes them.
 */
interface Backlog {
  emitted: number
  taken: number
  wake: (() => void) | undefined
}

/**
 * Where a batch's outcomes go: `settle` keeps them all (it returns them), `asCompleted` hands each one to its
 * stream and keeps none, so its memory is what is in flight (running, or emitted and not yet taken: together at
 * most `concurrency`) plus one byte per input.
 */
type Sink<I, A, E> =
  | { readonly _tag: "Keep" }
  | { readonly _tag: "Emit"; readonly emit: (outcome: Outcome<I, A, E>) => void; readonly backlog: Backlog }

/**
 * The engine behind `settle` and `asCompleted`. The calling fiber dispatches: it forks one fiber per item, at most
 * `concurrency` at a time, and each item fiber's observer records the outcome and wakes the dispatcher, so handing a
 * slot to the next item is O(1) (no waiter is parked on a semaphore). Each item runs in a fiber of its own, so what an
 * item forks with `forkChild` ends with the item, as with `Effect.forEach`.
 *
 * With a `Keep` sink, returns one outcome per input in input order. With an `Emit` sink, calls `emit` with each
 * outcome as it is decided (completion order, then the unfinished ones in input order), keeps none, and returns
 * `undefined`. Fails with the defects of an item when `catchDefects` is off.
 */
const runBatch = <I, A, E, R>(
  items: ReadonlyArray<I>,
  f: (item: I, index: number) => Effect.Effect<A, E, R>,
  config: Config,
  sink: Sink<I, A, E>,
  tally: Tally,
  probe?: BatchProbe
): Effect.Effect<Array<Outcome<I, A, E>> | undefined, never, R> =>
  Effect.uninterruptibleMask((restore) => {
    const n = items.length
    // One byte per input says whether its outcome is decided; the outcomes themselves are kept only for settle.
    const decided = new Uint8Array(n)
    // A preallocated array filled by index: `Array.from({ length: n })` showed at 4% of a 100,000-item profile.
    // oxlint-disable-next-line unicorn/no-new-array
    const outcomes: Array<Outcome<I, A, E>> | undefined = sink._tag === "Keep" ? new Array(n) : undefined
    const emit = sink._tag === "Emit" ? sink.emit : undefined
    const backlog = sink._tag === "Emit" ? sink.backlog : undefined
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
      decided[outcome.index] = 1
      if (probe !== undefined) probe.decided++
      if (outcomes !== undefined) {
        outcomes[outcome.index] = outcome
        if (probe !== undefined) probe.retained++
      } else {
        backlog!.emitted++
        emit!(outcome)
      }
    }

    const record = (index: number, exit: Exit.Exit<A, E>): void => {
      if (decided[index] === 1) return
      const input = items[index] as I
      if (exit._tag === "Success") {
        tally.success++
        return decide({ _tag: "Success", index, input, value: exit.value } satisfies Success<I, A>)
      }
      const reasons = exit.cause.reasons
      const die = reasons.find(Cause.isDieReason)
      if (die !== undefined) {
        if (config.catchDefects) {
          tally.defect++
          return decide({ _tag: "Defect", index, input, defect: die.defect } satisfies Defect<I>)
        }
        defect ??= Cause.fromReasons(reasons.filter(Cause.isDieReason))
        return signal()
      }
      const fail = reasons.find(Cause.isFailReason)
      if (fail !== undefined) {
        tally.failure++
        decide({ _tag: "Failure", index, input, error: fail.error } satisfies Failure<I, E>)
        failures++
        if (stop === undefined && config.maxFailures !== undefined && failures >= config.maxFailures) {
          stop = "MaxFailures"
          signal()
        }
        return
      }
      // Interrupted: by the batch (maxFailures or timeout) or by the item itself.
      if (stop === "TimedOut") tally.timedOut++
      else tally.interrupted++
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
      while (
        running.size + (backlog === undefined ? 0 : backlog.emitted - backlog.taken) < config.concurrency &&
        next < n && !halted()
      ) {
        const index = next++
        const effect = invoke(f, items[index] as I, index)
        if (isExitFast(effect)) {
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
        // Held back by a consumer that has not taken what was emitted: ask it to wake the batch as it takes.
        if (backlog !== undefined) backlog.wake = next < n && backlog.emitted > backlog.taken ? signal : undefined
        yield* awaitSignal
      }
      if (running.size > 0) yield* Fiber.interruptAll(Array.from(running))
      if (defect !== undefined) return yield* Effect.failCause(defect)
      for (let index = 0; index < n; index++) {
        if (decided[index] === 1) continue
        const input = items[index] as I
        if (stop === "TimedOut") tally.timedOut++
        else if (index < next) tally.interrupted++
        else tally.notRun++
        decide(
          stop === "TimedOut"
            ? { _tag: "TimedOut", index, input, started: index < next } satisfies TimedOut<I>
            : index < next
            ? { _tag: "Interrupted", index, input } satisfies Interrupted<I>
            : { _tag: "NotRun", index, input } satisfies NotRun<I>
        )
      }
      return outcomes
    })

    // Whatever ends the batch (done, stopped, a defect, the caller's interruption), no item or timer outlives it.
    const cleanup = Effect.suspend(() => {
      const fibers: Array<Fiber.Fiber<unknown, unknown>> = Array.from(running)
      if (timer !== undefined) fibers.push(timer)
      return fibers.length === 0 ? Effect.void : Fiber.interruptAll(fibers)
    })

    return Effect.ensuring(dispatch, cleanup)
  })

const emptyTally = (): Tally => ({ success: 0, failure: 0, defect: 0, interrupted: 0, notRun: 0, timedOut: 0 })

/**
 * The result of `settle`. `counts` comes from the tally kept while the batch ran; the `successes` and `failures`
 * views are built on first read (one pass each, then the same array), so a caller that reads only `outcomes` or
 * `counts` never pays for them. The getters are own enumerable properties: the object still compares, spreads and
 * serialises like plain data.
 */
const toSettled = <I, A, E>(outcomes: ReadonlyArray<Outcome<I, A, E>>, tally: Tally): Settled<I, A, E> => {
  let successes: Array<Success<I, A>> | undefined
  let failures: Array<Failure<I, E>> | undefined
  const counts: Counts = { total: outcomes.length, ...tally }
  return {
    outcomes,
    get successes(): ReadonlyArray<Success<I, A>> {
      if (successes === undefined) {
        successes = []
        if (counts.success > 0) {
          for (let i = 0; i < outcomes.length; i++) {
            const outcome = outcomes[i]!
            if (outcome._tag === "Success") successes.push(outcome)
          }
        }
      }
      return successes
    },
    get failures(): ReadonlyArray<Failure<I, E>> {
      if (failures === undefined) {
        failures = []
        if (counts.failure > 0) {
          for (let i = 0; i < outcomes.length; i++) {
            const outcome = outcomes[i]!
            if (outcome._tag === "Failure") failures.push(outcome)
          }
        }
      }
      return failures
    },
    counts
  }
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
    const tally = emptyTally()
    if (array.length === 0) return toSettled<I, A, E>([], tally)
    const outcomes = yield* runBatch(array, f, config, { _tag: "Keep" }, tally)
    return toSettled(outcomes!, tally)
  }).pipe(Effect.withSpan("Gather.settle"))

/** @internal */
export const asCompleted = <I, A, E, R>(
  items: Iterable<I>,
  f: (item: I, index: number) => Effect.Effect<A, E, R>,
  options?: Options,
  probe?: BatchProbe
): Stream.Stream<Outcome<I, A, E>, InvalidOptionError, R> =>
  Stream.suspend(() => {
    const backlog: Backlog = { emitted: 0, taken: 0, wake: undefined }
    return Stream.callback<Outcome<I, A, E>, InvalidOptionError, R>((queue) =>
      Effect.gen(function*() {
        const config = yield* validateOptions("Gather.asCompleted", options)
        const array = toArray(items)
        if (array.length > 0) {
          yield* runBatch(
            array,
            f,
            config,
            {
              _tag: "Emit",
              emit: (outcome) => {
                Queue.offerUnsafe(queue, outcome)
              },
              backlog
            },
            emptyTally(),
            probe
          )
        }
        yield* Queue.end(queue)
      })
    ).pipe(
      Stream.map((outcome) => {
        backlog.taken++
        const wake = backlog.wake
        if (wake !== undefined) {
          backlog.wake = undefined
          wake()
        }
        return outcome
      })
    )
  }).pipe(Stream.withSpan("Gather.asCompleted"))
