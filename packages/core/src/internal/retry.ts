/** @internal */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { Options, RetryBudget } from "../Retry.ts"
import * as deadline from "./deadline.ts"
import * as metrics from "./metrics.ts"
import { decodeDuration } from "./options.ts"
import type { BudgetImpl } from "./retryBudget.ts"

const module = "Retry"

/** @internal */
export const retryAfterOf = (error: unknown): Duration.Duration | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  if ("retryAfter" in error) return asDuration(error.retryAfter)
  // Effect's RateLimiterError and CircuitBreakerError carry it in their reason.
  if ("reason" in error && typeof error.reason === "object" && error.reason !== null && "retryAfter" in error.reason) {
    return asDuration(error.reason.retryAfter)
  }
  return undefined
}

const asDuration = (value: unknown): Duration.Duration | undefined => {
  if (value === undefined || value === null) return undefined
  if (Duration.isDuration(value)) return value
  if (typeof value === "number" || typeof value === "string" || typeof value === "bigint") {
    return decodeDuration(value as Duration.Input)
  }
  return undefined
}

/** @internal */
export const withRetryAfter = <Output, Input, Error, Env>(
  self: Schedule.Schedule<Output, Input, Error, Env>
): Schedule.Schedule<Output, Input, Error, Env> =>
  Schedule.modifyDelay(self, ({ duration, input }) => {
    const after = retryAfterOf(input)
    return Effect.succeed(after === undefined ? duration : Duration.max(duration, after))
  })

/** @internal */
export const whileDeadline = <Output, Input, Error, Env>(
  self: Schedule.Schedule<Output, Input, Error, Env>
): Schedule.Schedule<Output, Input, Error, Env> =>
  Schedule.while(self, ({ duration }) =>
    Effect.map(
      deadline.remaining,
      // Retry only if the next attempt would start before the deadline: sleeping past it would only end in a
      // DeadlineExceededError that hides the last real error.
      (left) => Option.isNone(left) || Duration.isLessThan(duration, left.value)
    ))

/** @internal */
export const withBudget: {
  (
    budget: RetryBudget
  ): <Output, Input, Error, Env>(
    self: Schedule.Schedule<Output, Input, Error, Env>
  ) => Schedule.Schedule<Output, Input, Error, Env>
  <Output, Input, Error, Env>(
    self: Schedule.Schedule<Output, Input, Error, Env>,
    budget: RetryBudget
  ): Schedule.Schedule<Output, Input, Error, Env>
} = dual(2, <Output, Input, Error, Env>(
  self: Schedule.Schedule<Output, Input, Error, Env>,
  budget: RetryBudget
): Schedule.Schedule<Output, Input, Error, Env> => {
  const impl = budget as BudgetImpl
  // A schedule's step is made once per retried run (before its first attempt): that is the call's deposit.
  return Schedule.fromStep(Effect.map(Schedule.toStep(self), (step) => {
    impl.depositUnsafe()
    return (now: number, input: Input) =>
      Effect.flatMap(
        step(now, input),
        (result) => impl.tryWithdrawUnsafe() ? Effect.succeed(result) : Cause.done(result[0])
      )
  }))
})

interface Config {
  readonly baseMillis: number
  readonly factor: number
  readonly maxDelayMillis: number
  readonly retries: number
  readonly jitter: "full" | "proportional" | "none"
}

const durationMillis = (
  option: string,
  value: Duration.Input | undefined,
  fallback: number,
  finite: boolean
): Result.Result<number, InvalidOptionError> =>
  value === undefined
    ? Result.succeed(fallback)
    : Result.map(InvalidOption.duration(module, option, value, { finite }), Duration.toMillis)

const JITTERS = ["full", "proportional", "none"] as const

/** Validates the options, failing with the first bad one. */
const configOf = (options: Options<any> | undefined): Result.Result<Config, InvalidOptionError> =>
  Result.map(
    Result.all({
      baseMillis: durationMillis("base", options?.base, 100, true),
      maxDelayMillis: durationMillis("maxDelay", options?.maxDelay, 30_000, false),
      factor: InvalidOption.number(module, "factor", options?.factor ?? 2, { min: 1 }),
      maxAttempts: InvalidOption.int(module, "maxAttempts", options?.maxAttempts ?? 3, { min: 1, orInfinity: true }),
      jitter: InvalidOption.oneOf(module, "jitter", options?.jitter ?? "full", JITTERS)
    }),
    ({ maxAttempts, ...rest }) => ({ ...rest, retries: maxAttempts - 1 })
  )

/** @internal */
export const schedule = <E = unknown>(
  options?: Options<E>
): Schedule.Schedule<Duration.Duration, E, InvalidOptionError> => {
  const config = configOf(options)
  return Result.isFailure(config)
    ? Schedule.fromStep(Effect.fail(config.failure))
    : build(config.success, options)
}

/**
 * The whole policy as one Schedule step, driven by Effect's `Effect.retry`: exponential backoff, cap, jitter, the
 * attempt limit, the predicate, `retryAfter`, the deadline and the budget, in that order. The same rules exist as
 * separate combinators ({@link withRetryAfter}, {@link whileDeadline}, {@link withBudget}) for schedules of your
 * own; fused here they cost one step instead of one per rule (measured: a call that succeeds first time pays about
 * what `Effect.retry` with Effect's own exponential schedule pays).
 */
const build = <E>(config: Config, options: Options<E> | undefined): Schedule.Schedule<Duration.Duration, E> => {
  const { baseMillis, factor, jitter, maxDelayMillis, retries } = config
  const retryOn = options?.retryOn
  const honourRetryAfter = options?.retryAfter !== false
  const respectDeadline = options?.deadline !== false
  const budget = options?.budget as BudgetImpl | undefined
  let instruments: metrics.Instruments | undefined
  // The init runs once per retried run (before its first attempt), in the retrying fiber: read its services there.
  return Schedule.fromStepWithMetadata(Effect.withFiber((fiber) => {
    budget?.depositUnsafe()
    if (options?.metrics === true) instruments ??= metrics.makeUnsafe("Retry", options, fiber.context)
    const live = instruments
    const random = fiber.getRef(Random.Random)
    const clock = fiber.getRef(Clock.Clock)
    const enclosing = respectDeadline ? fiber.getRef(deadline.CurrentDeadline) : undefined
    return Effect.succeed((meta: Schedule.InputMetadata<E>) => {
      const attempt = meta.attempt
      const nominal = baseMillis * Math.pow(factor, attempt - 1)
      const output = Duration.millis(nominal)
      if (attempt > retries || (retryOn !== undefined && !retryOn(meta.input))) {
        live?.addRejected()
        return Cause.done(output)
      }
      const capped = Math.min(nominal, maxDelayMillis)
      let delay = jitter === "none"
        ? capped
        : jitter === "full"
        ? Math.floor(random.nextDoubleUnsafe() * capped)
        // Effect's Schedule.jittered: a factor from 0.8 to 1.2, then the cap again
        : Math.min(jitterProportional(nominal, random.nextDoubleUnsafe()), maxDelayMillis)
      if (honourRetryAfter) {
        const after = retryAfterOf(meta.input)
        if (after !== undefined) delay = Math.max(delay, Duration.toMillis(after))
      }
      if (
        (enclosing !== undefined && !(delay < enclosing.deadline - clock.currentTimeMillisUnsafe())) ||
        (budget !== undefined && !budget.tryWithdrawUnsafe())
      ) {
        live?.addRejected()
        return Cause.done(output)
      }
      if (live !== undefined) {
        live.addAcquired()
        live.recordWait(delay)
      }
      return Effect.succeed([output, Duration.millis(delay)] as [Duration.Duration, Duration.Duration])
    })
  }))
}

const jitterProportional = (millis: number, random: number): number =>
  millis * 0.8 * (1 - random) + millis * 1.2 * random

/** Compiles the options once: a function that retries any effect by them. */
const compile = <E>(options: Options<E>) => {
  const config = configOf(options)
  if (Result.isFailure(config)) {
    // Reject bad options before the first attempt, not after it fails.
    const failed = Effect.fail(config.failure)
    return <A, R>(_: Effect.Effect<A, E, R>): Effect.Effect<A, E | InvalidOptionError, R> => failed
  }
  const policy = build(config.success, options)
  return <A, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | InvalidOptionError, R> => Effect.retry(self, policy)
}

/** @internal */
export const retry: {
  <E>(options: Options<NoInfer<E>>): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidOptionError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options: Options<NoInfer<E>>): Effect.Effect<A, E | InvalidOptionError, R>
} = function(...args: [Effect.Effect<any, any, any>, Options<any>] | [Options<any>]): any {
  // Data-last (a decorator) compiles the policy once for every effect it is applied to.
  return Effect.isEffect(args[0]) ? compile(args[1]!)(args[0]) : compile(args[0] as Options<any>)
} as any
