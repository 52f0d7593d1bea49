/**
 * The client's options, validated and resolved once (defaults filled in, durations decoded, `Infinity` as
 * `undefined` for "no limit").
 *
 * @internal
 */
import type { Retry } from "@async-ops/core"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
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

const invalid = (option: string, expected: string, value: unknown) =>
  new InvalidOptionError({ module: MODULE, option, expected, value })

const intOption = (option: string, value: unknown, fallback: number, min: number, allowInfinity: boolean) => {
  if (value === undefined) return fallback
  if (typeof value === "number" && (Number.isInteger(value) || (allowInfinity && value === Infinity)) && value >= min) {
    return value
  }
  throw invalid(option, `an integer >= ${min}${allowInfinity ? " or Infinity" : ""}`, value)
}

const durationOption = (
  option: string,
  value: Duration.Input | undefined,
  fallback: Duration.Duration | undefined,
  positive: boolean
): Duration.Duration | undefined => {
  if (value === undefined) return fallback
  const decoded = Duration.fromInput(value)
  if (Option.isNone(decoded)) throw invalid(option, "a duration", value)
  const millis = Duration.toMillis(decoded.value)
  if (Number.isNaN(millis) || millis < 0 || (positive && millis === 0)) {
    throw invalid(option, positive ? "a duration > 0" : "a duration >= 0", value)
  }
  return Duration.isFinite(decoded.value) ? decoded.value : undefined
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const resolve = (options: Options): Resolved => {
  const maxConnections = intOption("maxConnections", options.maxConnections, 100, 1, true)
  const maxConnectionsPerHost = intOption(
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
    const statuses = r.statuses ?? [408, 429, 500, 502, 503, 504]
    for (const s of statuses) {
      if (!Number.isInteger(s) || s < 100 || s > 599) throw invalid("retry.statuses", "status codes 100-599", statuses)
    }
    const methods = r.methods ?? ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]
    for (const m of methods) {
      if (typeof m !== "string" || !HEADER_NAME.test(m)) throw invalid("retry.methods", "HTTP method names", methods)
    }
    const jitter = r.jitter ?? "full"
    if (jitter !== "full" && jitter !== "proportional" && jitter !== "none") {
      throw invalid("retry.jitter", `"full", "proportional" or "none"`, jitter)
    }
    retry = {
      maxAttempts: intOption("retry.maxAttempts", r.maxAttempts, 3, 1, true),
      base: durationOption("retry.base", r.base, Duration.millis(100), false) ?? Duration.millis(100),
      maxDelay: durationOption("retry.maxDelay", r.maxDelay, Duration.seconds(30), false) ?? Duration.infinity,
      jitter,
      statuses: new Set(statuses),
      methods: new Set(methods.map((m) => m.toUpperCase())),
      budget: r.budget
    }
  }
  const cb = options.circuitBreaker
  const circuitBreaker = cb === undefined ? undefined : {
    failures: intOption("circuitBreaker.failures", cb.failures, 5, 1, false),
    openDuration: durationOption("circuitBreaker.openDuration", cb.openDuration, Duration.seconds(30), true) ??
      Duration.seconds(30)
  }
  const rl = options.rateLimit
  let rateLimit: Resolved["rateLimit"] = undefined
  if (rl !== undefined) {
    const onExceeded = rl.onExceeded ?? "delay"
    if (onExceeded !== "delay" && onExceeded !== "fail") {
      throw invalid("rateLimit.onExceeded", `"delay" or "fail"`, onExceeded)
    }
    const window = durationOption("rateLimit.window", rl.window, undefined, true)
    if (window === undefined) throw invalid("rateLimit.window", "a finite duration > 0", rl.window)
    rateLimit = { limit: intOption("rateLimit.limit", rl.limit, 1, 1, false), window, onExceeded }
  }
  const deadlineHeader = options.deadlineHeader === false ? undefined : (options.deadlineHeader ?? "x-deadline-ms")
  if (deadlineHeader !== undefined && (typeof deadlineHeader !== "string" || !HEADER_NAME.test(deadlineHeader))) {
    throw invalid("deadlineHeader", "a header name or false", options.deadlineHeader)
  }
  const userAgent = options.userAgent === false ? undefined : (options.userAgent ?? defaultUserAgent)
  if (userAgent !== undefined && (typeof userAgent !== "string" || /[\r\n]/.test(userAgent))) {
    throw invalid("userAgent", "a string without line breaks, or false", options.userAgent)
  }
  if (options.name !== undefined && typeof options.name !== "string") {
    throw invalid("name", "a string", options.name)
  }
  return {
    name: options.name ?? "HttpClient",
    metrics: options.metrics === true,
    maxConnections,
    maxConnectionsPerHost,
    poolWaitTimeout: durationOption("poolWaitTimeout", options.poolWaitTimeout, Duration.seconds(30), true),
    connectTimeout: durationOption("connectTimeout", options.connectTimeout, Duration.seconds(10), true),
    headersTimeout: durationOption("headersTimeout", options.headersTimeout, Duration.seconds(30), true),
    requestTimeout: durationOption("requestTimeout", options.requestTimeout, Duration.seconds(60), true),
    retry,
    circuitBreaker,
    rateLimit,
    maxResponseBytes: intOption("maxResponseBytes", options.maxResponseBytes, 10 * 1024 * 1024, 0, true),
    deadlineHeader,
    userAgent,
    tracing: options.tracing === true
  }
}

/** @internal */
export const validate = (options: Options | undefined): Effect.Effect<Resolved, InvalidOptionError> =>
  Effect.try({
    try: () => resolve(options ?? {}),
    catch: (e) => e instanceof InvalidOptionError ? e : invalid("options", "an options object", options)
  })

/** @internal */
export const undiciOptions = (resolved: Resolved) => ({
  ...(Number.isFinite(resolved.maxConnectionsPerHost) ? { connections: resolved.maxConnectionsPerHost } : {}),
  ...(resolved.connectTimeout !== undefined ? { connect: { timeout: Duration.toMillis(resolved.connectTimeout) } } : {})
})
