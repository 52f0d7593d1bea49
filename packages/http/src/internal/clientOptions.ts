/**
 * The client's options, validated and resolved once (defaults filled in, durations decoded, `Infinity` as
 * `undefined` for "no limit").
 *
 * @internal
 */
import type { Retry } from "@async-ops/core"
import * as InvalidOption from "@async-ops/core/InvalidOption"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { Options } from "../HttpResilience.ts"

const MODULE = "HttpResilience.make"

/** @internal */
export interface Resolved {
  readonly name: string
  readonly metrics: boolean
  readonly maxConnections: number
  readonly maxConnectionsPerHost: number
  readonly poolWaitTimeout: Duration.Duration | undefined
  readonly connectTimeout: Duration.Duration | undefined
  readonly headersTimeout: Duration.Duration | undefined
  readonly requestTimeout: Duration.Duration | undefined
  readonly retry:
    | {
      readonly maxAttempts: number
      readonly base: Duration.Duration
      readonly maxDelay: Duration.Duration
      readonly jitter: "full" | "proportional" | "none"
      readonly statuses: ReadonlySet<number>
      readonly methods: ReadonlySet<string>
      readonly budget: Retry.RetryBudget | undefined
    }
    | undefined
  readonly circuitBreaker: { readonly failures: number; readonly openDuration: Duration.Duration } | undefined
  readonly rateLimit:
    | { readonly limit: number; readonly window: Duration.Duration; readonly onExceeded: "delay" | "fail" }
    | undefined
  readonly maxResponseBytes: number
  readonly deadlineHeader: string | undefined
  readonly userAgent: string | undefined
  readonly tracing: boolean
}

/** @internal */
export const defaultUserAgent = "async-ops-http/0.1"

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** An integer option: `fallback` when absent. */
const intOption = (option: string, value: unknown, fallback: number, min: number, orInfinity: boolean) =>
  value === undefined ? Result.succeed(fallback) : InvalidOption.int(MODULE, option, value, { min, orInfinity })

/** A duration option: `fallback` when absent, `undefined` ("no limit") when infinite. */
const durationOption = (
  option: string,
  value: Duration.Input | undefined,
  fallback: Duration.Duration | undefined,
  positive: boolean
): InvalidOption.Check<Duration.Duration | undefined> =>
  value === undefined ? Result.succeed(fallback) : Result.map(
    InvalidOption.duration(MODULE, option, value, { exclusive: positive }),
    (decoded) => Duration.isFinite(decoded) ? decoded : undefined
  )

const check = <A>(option: string, value: A, ok: (u: A) => boolean, expected: string) =>
  InvalidOption.check(MODULE, option, value, ok, expected)

const JITTERS = ["full", "proportional", "none"] as const
const ON_EXCEEDED = ["delay", "fail"] as const

const resolve = (options: Options): InvalidOption.Check<Resolved> =>
  Result.gen(function*() {
    const maxConnections = yield* intOption("maxConnections", options.maxConnections, 100, 1, true)
    const maxConnectionsPerHost = yield* intOption(
      "maxConnectionsPerHost",
      options.maxConnectionsPerHost,
      Number.isFinite(maxConnections) ? maxConnections : 100,
      1,
      true
    )
    const retryOption = options.retry
    let retry: Resolved["retry"] = undefined
    if (retryOption !== false) {
      const r = retryOption ?? {}
      const statuses = yield* check(
        "retry.statuses",
        r.statuses ?? [408, 429, 500, 502, 503, 504],
        (statuses) => Array.isArray(statuses) && statuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 599),
        "status codes 100-599"
      )
      const methods = yield* check(
        "retry.methods",
        r.methods ?? ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"],
        (methods) => Array.isArray(methods) && methods.every((m) => typeof m === "string" && HEADER_NAME.test(m)),
        "HTTP method names"
      )
      retry = {
        maxAttempts: yield* intOption("retry.maxAttempts", r.maxAttempts, 3, 1, true),
        base: (yield* durationOption("retry.base", r.base, Duration.millis(100), false)) ?? Duration.millis(100),
        maxDelay: (yield* durationOption("retry.maxDelay", r.maxDelay, Duration.seconds(30), false)) ??
          Duration.infinity,
        jitter: yield* InvalidOption.oneOf(MODULE, "retry.jitter", r.jitter ?? "full", JITTERS),
        statuses: new Set(statuses),
        methods: new Set(methods.map((m) => m.toUpperCase())),
        budget: r.budget
      }
    }
    const cb = options.circuitBreaker
    const circuitBreaker = cb === undefined ? undefined : {
      failures: yield* intOption("circuitBreaker.failures", cb.failures, 5, 1, false),
      openDuration:
        (yield* durationOption("circuitBreaker.openDuration", cb.openDuration, Duration.seconds(30), true)) ??
          Duration.seconds(30)
    }
    const rl = options.rateLimit
    let rateLimit: Resolved["rateLimit"] = undefined
    if (rl !== undefined) {
      const onExceeded = yield* InvalidOption.oneOf(
        MODULE,
        "rateLimit.onExceeded",
        rl.onExceeded ?? "delay",
        ON_EXCEEDED
      )
      const window = yield* InvalidOption.duration(MODULE, "rateLimit.window", rl.window, {
        exclusive: true,
        finite: true
      })
      rateLimit = { limit: yield* intOption("rateLimit.limit", rl.limit, 1, 1, false), window, onExceeded }
    }
    const deadlineHeader = options.deadlineHeader === false ? undefined : (options.deadlineHeader ?? "x-deadline-ms")
    yield* check(
      "deadlineHeader",
      deadlineHeader,
      (h) => h === undefined || (typeof h === "string" && HEADER_NAME.test(h)),
      "a header name or false"
    )
    const userAgent = options.userAgent === false ? undefined : (options.userAgent ?? defaultUserAgent)
    yield* check(
      "userAgent",
      userAgent,
      (ua) => ua === undefined || (typeof ua === "string" && !/[\r\n]/.test(ua)),
      "a string without line breaks, or false"
    )
    yield* check("name", options.name, (name) => name === undefined || typeof name === "string", "a string")
    return {
      name: options.name ?? "HttpClient",
      metrics: options.metrics === true,
      maxConnections,
      maxConnectionsPerHost,
      poolWaitTimeout: yield* durationOption("poolWaitTimeout", options.poolWaitTimeout, Duration.seconds(30), true),
      connectTimeout: yield* durationOption("connectTimeout", options.connectTimeout, Duration.seconds(10), true),
      headersTimeout: yield* durationOption("headersTimeout", options.headersTimeout, Duration.seconds(30), true),
      requestTimeout: yield* durationOption("requestTimeout", options.requestTimeout, Duration.seconds(60), true),
      retry,
      circuitBreaker,
      rateLimit,
      maxResponseBytes: yield* intOption("maxResponseBytes", options.maxResponseBytes, 10 * 1024 * 1024, 0, true),
      deadlineHeader,
      userAgent,
      tracing: options.tracing === true
    }
  })

/** @internal */
export const validate = (options: Options | undefined): Effect.Effect<Resolved, InvalidOptionError> =>
  Effect.suspend(() =>
    Effect.fromResult(
      options === undefined || (typeof options === "object" && options !== null)
        ? resolve(options ?? {})
        : InvalidOption.check(MODULE, "options", options, () => false, "an options object")
    )
  )

/** @internal */
export const undiciOptions = (resolved: Resolved) => ({
  ...(Number.isFinite(resolved.maxConnectionsPerHost) ? { connections: resolved.maxConnectionsPerHost } : {}),
  ...(resolved.connectTimeout !== undefined ? { connect: { timeout: Duration.toMillis(resolved.connectTimeout) } } : {})
})
