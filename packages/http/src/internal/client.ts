/**
 * The resilient client: permits per host, phase timeouts, retries, breaker, rate limit, size cap.
 *
 * @internal
 */
import { Deadline, Limiter, Registry, Retry } from "@async-ops/core"
import { InvalidOptionError } from "@async-ops/core/Options"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { constTrue } from "effect/Function"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as RateLimiter from "effect/persistence/RateLimiter"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Options } from "../HttpResilience.ts"

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export class InvalidUrlError extends Data.TaggedError("InvalidUrlError")<{
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid URL ${JSON.stringify(this.url)}: ${this.reason}`
  }
}

/** @internal */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly method: string
  readonly url: string
  readonly host: string
  readonly code: string | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    return `Cannot connect to ${this.host} (${this.code ?? "unknown"}) for ${this.method} ${this.url}`
  }
}

/** @internal */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly method: string
  readonly url: string
  readonly host: string
  readonly code: string | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    return `Connection to ${this.host} failed (${this.code ?? "unknown"}) during ${this.method} ${this.url}`
  }
}

/** @internal */
export type TimeoutPhase = "connect" | "headers" | "request"

/** @internal */
export class RequestTimeoutError extends Data.TaggedError("RequestTimeoutError")<{
  readonly phase: TimeoutPhase
  readonly timeout: Duration.Duration
  readonly method: string
  readonly url: string
}> {
  override get message(): string {
    return `${this.method} ${this.url}: ${this.phase} timeout after ${Duration.format(this.timeout)}`
  }
}

/** @internal */
export class PoolWaitTimeoutError extends Data.TaggedError("PoolWaitTimeoutError")<{
  readonly host: string
  readonly timeout: Duration.Duration
  readonly method: string
  readonly url: string
}> {
  override get message(): string {
    return `No connection slot for ${this.host} within ${Duration.format(this.timeout)} (${this.method} ${this.url})`
  }
}

/** @internal */
export class StatusError extends Data.TaggedError("StatusError")<{
  readonly method: string
  readonly url: string
  readonly status: number
  readonly headers: Headers.Headers
  readonly body: string
  readonly retryAfter: Duration.Duration | undefined
}> {
  override get message(): string {
    return `${this.method} ${this.url}: status ${this.status}`
  }
}

/** @internal */
export class BodyTooLargeError extends Data.TaggedError("BodyTooLargeError")<{
  readonly method: string
  readonly url: string
  readonly limit: number
  readonly received: number
}> {
  override get message(): string {
    return `${this.method} ${this.url}: body larger than ${this.limit} bytes (at least ${this.received})`
  }
}

/** @internal */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly url: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Cannot decode the body of ${this.url}: ${this.cause instanceof Error ? this.cause.message : this.cause}`
  }
}

/** @internal */
export class CircuitOpenError extends Data.TaggedError("CircuitOpenError")<{
  readonly host: string
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Circuit open for ${this.host}; retry after ${Duration.format(this.retryAfter)}`
  }
}

/** @internal */
export class RateLimitedError extends Data.TaggedError("RateLimitedError")<{
  readonly host: string
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Rate limit reached for ${this.host}; retry after ${Duration.format(this.retryAfter)}`
  }
}

/** @internal */
export type HttpError =
  | InvalidUrlError
  | ConnectError
  | TransportError
  | RequestTimeoutError
  | PoolWaitTimeoutError
  | StatusError
  | BodyTooLargeError
  | DecodeError
  | CircuitOpenError
  | RateLimitedError

// ---------------------------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const decoder = new TextDecoder()

/** @internal */
export class Response {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: string
  readonly status: number
  readonly headers: Headers.Headers
  readonly body: Uint8Array
  attempts: number
  private cachedText: string | undefined
  constructor(
    request: HttpClientRequest.HttpClientRequest,
    url: string,
    status: number,
    headers: Headers.Headers,
    body: Uint8Array
  ) {
    this.request = request
    this.url = url
    this.status = status
    this.headers = headers
    this.body = body
    this.attempts = 1
    this.cachedText = undefined
  }
  get text(): string {
    if (this.cachedText === undefined) this.cachedText = decoder.decode(this.body)
    return this.cachedText
  }
  get json(): Effect.Effect<unknown, DecodeError> {
    return Effect.try({
      try: () => {
        const text = this.text
        return text === "" ? null : JSON.parse(text) as unknown
      },
      catch: (cause) => new DecodeError({ url: this.url, cause })
    })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface Stats {
  readonly name: string
  readonly requests: number
  readonly inFlight: number
  readonly attempts: number
  readonly retries: number
  readonly succeeded: number
  readonly failed: number
  readonly connectionsInUse: number
  readonly waitingForConnection: number
  readonly hosts: number
  readonly breakers: Readonly<Record<string, BreakerState>>
}

/** @internal */
export type BreakerState = "closed" | "open" | "half-open"

const noBreakers: Readonly<Record<string, BreakerState>> = Object.freeze({})

const breakerState = (state: CircuitBreaker.State): BreakerState => {
  switch (state._tag) {
    case "Closed":
      return "closed"
    case "Open":
      // the store moves an Open circuit to HalfOpen only when the next call arrives: past its open time the next
      // call is the probe, which is what half-open means
      return Duration.isZero(state.retryAfter) ? "half-open" : "open"
    case "HalfOpen":
      return "half-open"
  }
}

/** @internal */
export interface Client {
  readonly name: string
  readonly execute: (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<Response, HttpError>
  readonly get: (url: string | URL, options?: HttpClientRequest.Options.NoUrl) => Effect.Effect<Response, HttpError>
  readonly head: (url: string | URL, options?: HttpClientRequest.Options.NoUrl) => Effect.Effect<Response, HttpError>
  readonly post: (url: string | URL, options?: HttpClientRequest.Options.NoUrl) => Effect.Effect<Response, HttpError>
  readonly put: (url: string | URL, options?: HttpClientRequest.Options.NoUrl) => Effect.Effect<Response, HttpError>
  readonly patch: (url: string | URL, options?: HttpClientRequest.Options.NoUrl) => Effect.Effect<Response, HttpError>
  readonly del: (url: string | URL, options?: HttpClientRequest.Options.NoUrl) => Effect.Effect<Response, HttpError>
  readonly stats: Effect.Effect<Stats>
}

/** @internal */
export class ResilientClient extends Context.Service<ResilientClient, Client>()(
  "@async-ops/http/HttpResilience/ResilientClient"
) {}

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

// ---------------------------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------------------------

/** System error codes that mean the connection was never made (a ConnectError; anything else is a TransportError). */
export const CONNECT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "EHOSTDOWN"
])

const codeOf = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}

const fromClientError = (
  error: HttpClientError.HttpClientError,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  resolved: Resolved
): HttpError => {
  const reason = error.reason
  if (reason._tag === "InvalidUrlError") {
    return new InvalidUrlError({ url: request.url, reason: String(reason.cause) })
  }
  return fromTransportCause("cause" in reason ? reason.cause : undefined, request.method, url, resolved)
}

/**
 * The typed error of a transport failure before the response head (the error undici reported, or its cause):
 * undici's connect timeout, a connect failure by its code, else a `TransportError`.
 *
 * @internal
 */
export const fromTransportCause = (cause: unknown, method: string, url: URL, resolved: Resolved): HttpError => {
  const code = codeOf(cause)
  if (code === "UND_ERR_CONNECT_TIMEOUT") {
    return new RequestTimeoutError({
      phase: "connect",
      timeout: resolved.connectTimeout ?? Duration.infinity,
      method,
      url: url.href
    })
  }
  const fields = { method, url: url.href, host: url.host, code, cause }
  return code !== undefined && CONNECT_CODES.has(code) ? new ConnectError(fields) : new TransportError(fields)
}

/**
 * The typed error of a response body that broke off after the head.
 *
 * @internal
 */
export const brokenBody = (cause: unknown, method: string, url: URL): TransportError =>
  new TransportError({ method, url: url.href, host: url.host, code: codeOf(cause), cause })

const parseRetryAfter = (value: string | undefined, now: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Duration.millis(Math.max(0, at - now))
}

/** @internal */
export const parseRetryAfterHeader = parseRetryAfter

const isRetryableError = (resolved: NonNullable<Resolved["retry"]>) => (error: HttpError): boolean => {
  switch (error._tag) {
    case "ConnectError":
    case "TransportError":
    case "RequestTimeoutError":
      return true
    case "StatusError":
      return resolved.statuses.has(error.status)
    default:
      return false
  }
}

/** An HTTP failure that counts against a host's circuit: it says the host is unwell. */
const breakerOutcome = (exit: Exit.Exit<Response, HttpError>): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return CircuitBreaker.ignored
  switch (error.value._tag) {
    case "ConnectError":
    case "TransportError":
    case "RequestTimeoutError":
      return CircuitBreaker.failure()
    case "StatusError":
      return error.value.status >= 500 ? CircuitBreaker.failure() : CircuitBreaker.success
    default:
      return CircuitBreaker.ignored
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------------------------

const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  headers: Headers.Headers,
  method: string,
  url: URL,
  limit: number
): Effect.Effect<Uint8Array, HttpError> => {
  const length = headers["content-length"]
  const tooLarge = (received: number) => new BodyTooLargeError({ method, url: url.href, limit, received })
  const broken = (error: HttpClientError.HttpClientError) =>
    brokenBody("cause" in error.reason ? error.reason.cause : undefined, method, url)
  if (method === "HEAD" || response.status === 204 || response.status === 304) {
    return Effect.succeed(new Uint8Array(0))
  }
  if (length !== undefined && /^\d+$/.test(length)) {
    const size = Number(length)
    if (size > limit) {
      // read one chunk and end the stream: the transport aborts the request and closes the socket
      return Effect.andThen(Effect.ignore(Stream.runHead(response.stream)), Effect.fail(tooLarge(size)))
    }
    return Effect.map(Effect.mapError(response.arrayBuffer, broken), (buffer) => new Uint8Array(buffer))
  }
  return Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    return response.stream.pipe(
      Stream.mapError(broken),
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > limit) return Effect.fail(tooLarge(size))
        chunks.push(chunk)
        return Effect.void
      }),
      Effect.map(() => {
        if (chunks.length === 1) return chunks[0]!
        const out = new Uint8Array(size)
        let offset = 0
        for (const c of chunks) {
          out.set(c, offset)
          offset += c.length
        }
        return out
      })
    )
  })
}

/**
 * A deadline of one exchange in a {@link Watchdog}: when it passes, `expire` runs (once).
 *
 * @internal
 */
export interface Pending {
  readonly at: number
  readonly expire: () => void
}

/** One exchange's headers phase: its headers deadline while the response head has not arrived. */
class Phase {
  headers: Pending | undefined = undefined
  readonly watchdog: Watchdog
  constructor(watchdog: Watchdog) {
    this.watchdog = watchdog
  }
  /** The response head is in: the headers deadline no longer applies. */
  received(): void {
    if (this.headers !== undefined) {
      this.watchdog.headers.delete(this.headers)
      this.headers = undefined
    }
  }
}

/**
 * The phase timeouts of every exchange of one client on shared timers, instead of a timer fiber (and a race) per
 * exchange, which cost about a third of a local request's CPU time (measured on W4). Each exchange adds its
 * deadlines, `start + headersTimeout` and `start + requestTimeout`, to two sets that are therefore in deadline
 * order (insertion order, start times never decrease, unless callers on different clocks share the client: then
 * a set is scanned whole until it empties), and removes them when it no longer needs them. A sleeper
 * fiber (on the caller's `Clock`, so `TestClock` drives it) is armed for the earliest deadline when no sleeper is
 * due before it; when it wakes it expires every deadline passed and arms the next. While deadlines remain,
 * sleepers are not cancelled early (a spent one wakes, finds nothing and ends), so under steady traffic about one
 * runs per timeout period; when the last exchange lets go, they are interrupted (an idle client keeps no fiber or
 * timer), and the client's scope interrupts any left when it closes.
 *
 * @internal
 */
export class Watchdog {
  readonly headers = new Set<Pending>()
  readonly requests = new Set<Pending>()
  private lastHeaders = -Infinity
  private lastRequest = -Infinity
  /** Whether a set is in deadline order (it is unless callers with different clocks share the client). */
  private headersInOrder = true
  private requestsInOrder = true
  /** The wake-up times of the live sleepers. */
  private readonly armed: Array<number> = []
  private readonly sleepers = new Set<Fiber.Fiber<void>>()
  private closed = false

  /** Adds a deadline. */
  add(kind: "headers" | "request", at: number, expire: () => void): Pending {
    const entry: Pending = { at, expire }
    if (kind === "headers") {
      if (at < this.lastHeaders) this.headersInOrder = false
      else this.lastHeaders = at
      this.headers.add(entry)
    } else {
      if (at < this.lastRequest) this.requestsInOrder = false
      else this.lastRequest = at
      this.requests.add(entry)
    }
    return entry
  }

  /** Makes sure a sleeper wakes at `at` at the latest. */
  arm(at: number, context: Context.Context<never>): void {
    if (this.closed) return
    for (const t of this.armed) if (t <= at) return
    this.armed.push(at)
    const fiber = Effect.runForkWith(context)(
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          Effect.andThen(
            Effect.sleep(Duration.millis(Math.max(0, at - now))),
            Effect.withFiber((self) => {
              this.wake(at, self)
              return Effect.void
            })
          )
      )
    )
    if (fiber.pollUnsafe() === undefined) this.sleepers.add(fiber)
  }

  private wake(at: number, self: Fiber.Fiber<unknown, unknown>): void {
    this.sleepers.delete(self as Fiber.Fiber<void>)
    const i = this.armed.indexOf(at)
    if (i >= 0) this.armed.splice(i, 1)
    const now = self.getRef(Clock.Clock).currentTimeMillisUnsafe()
    const next = Math.min(
      expireUntil(this.headers, now, this.headersInOrder),
      expireUntil(this.requests, now, this.requestsInOrder)
    )
    if (next !== Infinity) this.arm(next, self.context as Context.Context<never>)
  }

  /**
   * Called when an exchange let go of its deadlines: with none left, the sleepers are interrupted at once, so an
   * idle client keeps no fiber or timer alive.
   */
  released(): void {
    if (this.headers.size > 0 || this.requests.size > 0) return
    this.lastHeaders = this.lastRequest = -Infinity
    this.headersInOrder = this.requestsInOrder = true
    if (this.sleepers.size === 0) return
    const sleepers = [...this.sleepers]
    this.sleepers.clear()
    this.armed.length = 0
    for (const fiber of sleepers) fiber.interruptUnsafe()
  }

  /** Interrupts the sleepers (the client's scope is closing). */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    const sleepers = [...this.sleepers]
    this.sleepers.clear()
    return Effect.asVoid(Fiber.interruptAll(sleepers))
  })
}

/**
 * Expires the deadlines of `set` passed at `now`; returns the next one, or `Infinity`. In order, it stops at the
 * first one still to come; out of order (callers on different clocks), it looks at them all.
 */
const expireUntil = (set: Set<Pending>, now: number, inOrder: boolean): number => {
  let next = Infinity
  for (const entry of set) {
    if (entry.at > now) {
      if (inOrder) return entry.at
      next = Math.min(next, entry.at)
      continue
    }
    set.delete(entry)
    entry.expire()
  }
  return next
}

/**
 * Bounds an exchange by the headers timeout (until `phase.received()`) and the request timeout (the whole
 * exchange) on the client's {@link Watchdog}. The exchange runs in a fiber of its own (the caller's services),
 * so that a timeout can interrupt it (its request is aborted) while the caller fails with `RequestTimeoutError`
 * once it has ended; interrupting the caller interrupts it too.
 */
const withPhaseTimeouts = <A>(
  effect: Effect.Effect<A, HttpError>,
  phase: Phase,
  headers: Duration.Duration | undefined,
  request: Duration.Duration | undefined,
  method: string,
  url: string
): Effect.Effect<A, HttpError> => {
  const useHeaders = headers !== undefined &&
    (request === undefined || Duration.isLessThan(headers, request))
  if (!useHeaders && request === undefined) return effect
  const watchdog = phase.watchdog
  return Effect.withFiber((parent) => {
    const start = parent.getRef(Clock.Clock).currentTimeMillisUnsafe()
    const context = parent.context as Context.Context<never>
    return Effect.callback<A, HttpError>((resume) => {
      let settled = false
      let requestEntry: Pending | undefined = undefined
      let child: Fiber.Fiber<A, HttpError> | undefined = undefined
      const clear = () => {
        settled = true
        if (phase.headers !== undefined) {
          watchdog.headers.delete(phase.headers)
          phase.headers = undefined
        }
        if (requestEntry !== undefined) watchdog.requests.delete(requestEntry)
        watchdog.released()
      }
      const expire = (which: "headers" | "request", timeout: Duration.Duration) => () => {
        if (settled) return
        clear()
        const error = new RequestTimeoutError({ phase: which, timeout, method, url })
        resume(child === undefined ? Effect.fail(error) : Effect.andThen(Fiber.interrupt(child), Effect.fail(error)))
      }
      let first = Infinity
      if (useHeaders) {
        phase.headers = watchdog.add("headers", start + Duration.toMillis(headers), expire("headers", headers))
        first = phase.headers.at
      }
      if (request !== undefined) {
        requestEntry = watchdog.add("request", start + Duration.toMillis(request), expire("request", request))
        first = Math.min(first, requestEntry.at)
      }
      watchdog.arm(first, context)
      const fiber = Effect.runForkWith(context)(effect)
      child = fiber
      fiber.addObserver((exit) => {
        if (settled) return
        clear()
        resume(exit)
      })
      return Effect.suspend(() => {
        if (!settled) clear()
        return Fiber.interrupt(fiber)
      })
    })
  })
}

/**
 * A transport's own exchange, used instead of the `HttpClient` for the requests it `supports`: it sends the
 * request (with the `user-agent` and deadline headers the client adds), reads the body under `maxResponseBytes`,
 * honours the headers and request timeouts on `watchdog`, aborts the request when interrupted, and fails with the
 * same typed errors as the `HttpClient` path. The client runs it inside the connection permit, as that path.
 *
 * @internal
 */
export interface Direct {
  readonly supports: (request: HttpClientRequest.HttpClientRequest) => boolean
  readonly exchange: (
    request: HttpClientRequest.HttpClientRequest,
    url: URL,
    resolved: Resolved,
    watchdog: Watchdog
  ) => Effect.Effect<Response, HttpError>
}

class ClientImpl implements Client {
  readonly name: string
  readonly resolved: Resolved
  readonly transport: HttpClient.HttpClient
  readonly direct: Direct | undefined
  readonly limiter: Limiter.KeyedLimiter<string>
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  readonly rateLimiter: RateLimiter.RateLimiter | undefined
  readonly policy: Schedule.Schedule<Duration.Duration, HttpError, InvalidOptionError> | undefined
  readonly retryOn: ((error: HttpError) => boolean) | undefined
  readonly watchdog = new Watchdog()
  /**
   * The hosts whose breaker saw a failed call, added on the failure path only (a host that never failed reads
   * closed): `stats` reads their circuits when asked, the hot path does no extra work.
   */
  readonly breakerHosts = new Set<string>()
  requests = 0
  inFlight = 0
  attempts = 0
  retries = 0
  succeeded = 0
  failed = 0

  constructor(
    resolved: Resolved,
    transport: HttpClient.HttpClient,
    direct: Direct | undefined,
    limiter: Limiter.KeyedLimiter<string>,
    breaker: CircuitBreaker.CircuitBreaker | undefined,
    rateLimiter: RateLimiter.RateLimiter | undefined
  ) {
    this.name = resolved.name
    this.resolved = resolved
    this.transport = transport
    this.direct = direct
    this.limiter = limiter
    this.breaker = breaker
    this.rateLimiter = rateLimiter
    const retry = resolved.retry
    this.retryOn = retry === undefined ? undefined : isRetryableError(retry)
    this.policy = retry === undefined || retry.maxAttempts === 1 ? undefined : Retry.schedule<HttpError>({
      maxAttempts: retry.maxAttempts,
      base: retry.base,
      maxDelay: retry.maxDelay,
      jitter: retry.jitter,
      retryOn: this.retryOn,
      budget: retry.budget
    })
  }

  get stats(): Effect.Effect<Stats> {
    return Effect.flatMap(this.limiter.stats, (limiter) =>
      Effect.map(this.breakers, (breakers) => ({
        name: this.name,
        requests: this.requests,
        inFlight: this.inFlight,
        attempts: this.attempts,
        retries: this.retries,
        succeeded: this.succeeded,
        failed: this.failed,
        connectionsInUse: limiter.inFlight,
        waitingForConnection: limiter.waiting,
        hosts: limiter.keys,
        breakers
      })))
  }

  /** The circuit of every host that saw a failure, read from the breaker's store now. */
  get breakers(): Effect.Effect<Readonly<Record<string, BreakerState>>> {
    const breaker = this.breaker
    if (breaker === undefined || this.breakerHosts.size === 0) return Effect.succeed(noBreakers)
    return Effect.map(
      // the memory store never fails; a failure would be a defect
      Effect.orDie(Effect.forEach(Array.from(this.breakerHosts), (host) => breaker.state(host))),
      (states) => Object.freeze(Object.fromEntries(states.map((s) => [s.key, breakerState(s)])))
    )
  }

  readonly get = (url: string | URL, options?: HttpClientRequest.Options.NoUrl) =>
    this.execute(HttpClientRequest.get(url, options))
  readonly head = (url: string | URL, options?: HttpClientRequest.Options.NoUrl) =>
    this.execute(HttpClientRequest.head(url, options))
  readonly post = (url: string | URL, options?: HttpClientRequest.Options.NoUrl) =>
    this.execute(HttpClientRequest.post(url, options))
  readonly put = (url: string | URL, options?: HttpClientRequest.Options.NoUrl) =>
    this.execute(HttpClientRequest.put(url, options))
  readonly patch = (url: string | URL, options?: HttpClientRequest.Options.NoUrl) =>
    this.execute(HttpClientRequest.patch(url, options))
  readonly del = (url: string | URL, options?: HttpClientRequest.Options.NoUrl) =>
    this.execute(HttpClientRequest.delete(url, options))

  readonly execute = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<Response, HttpError> =>
    Effect.suspend(() => {
      const url = parseUrl(request.url)
      if (typeof url === "string") return Effect.fail(new InvalidUrlError({ url: request.url, reason: url }))
      this.requests++
      this.inFlight++
      const call = new Call(this, request, url)
      const retry = this.resolved.retry
      const policy = this.policy
      let effect: Effect.Effect<Response, HttpError> = call.attempt
      if (policy !== undefined && retry !== undefined && isRetryableRequest(request, retry.methods)) {
        effect = retry.budget === undefined
          // Hot path: the first attempt runs outside `Effect.retry` (whose driver costs about a microsecond per
          // call); only a retryable failure starts the policy, with that failure replayed as its first attempt.
          // The same schedule steps as `Effect.retry(attempt, policy)`: the policy reads no state at its start
          // but the budget's deposit, so with a budget the whole call runs under `Effect.retry` as before.
          ? Effect.catch(call.attempt, (e) => call.retryableFirst(e) ? call.retried(e, policy) : Effect.fail(e))
          : call.retried(undefined, policy)
      }
      return Effect.onExit(effect, call.onExit)
    })

  /** One attempt behind the rate limit and the circuit breaker. */
  guarded(request: HttpClientRequest.HttpClientRequest, url: URL): Effect.Effect<Response, HttpError> {
    let effect = this.attempt(request, url)
    const breaker = this.breaker
    if (breaker !== undefined) {
      const host = url.host
      effect = Effect.catch(
        breaker.execute(effect, { key: host, classify: breakerOutcome }),
        (e): Effect.Effect<never, HttpError> => {
          this.breakerHosts.add(host)
          if (e._tag !== "CircuitBreakerError") return Effect.fail(e)
          if (e.reason._tag === "CircuitBreakerStoreError") return Effect.die(e)
          return Effect.fail(
            new CircuitOpenError({
              host,
              retryAfter: e.reason._tag === "CircuitOpen" ? e.reason.retryAfter : Duration.zero
            })
          )
        }
      )
    }
    const rateLimit = this.resolved.rateLimit
    const limiter = this.rateLimiter
    if (rateLimit !== undefined && limiter !== undefined) {
      const host = url.host
      const consume = limiter.consume({
        key: host,
        limit: rateLimit.limit,
        window: rateLimit.window,
        onExceeded: rateLimit.onExceeded
      }).pipe(
        Effect.catchTag(
          "RateLimiterError",
          (e): Effect.Effect<never, HttpError> =>
            e.reason._tag === "RateLimitExceeded"
              ? Effect.fail(new RateLimitedError({ host, retryAfter: e.reason.retryAfter }))
              : Effect.die(e)
        ),
        Effect.flatMap((result) => Duration.isZero(result.delay) ? Effect.void : Effect.sleep(result.delay))
      )
      effect = Effect.andThen(consume, effect)
    }
    return effect
  }

  /** One attempt: a connection permit (pool wait), then the exchange under its phase timeouts. */
  attempt(request: HttpClientRequest.HttpClientRequest, url: URL): Effect.Effect<Response, HttpError> {
    const resolved = this.resolved
    const method = request.method
    const direct = this.direct
    if (direct !== undefined && direct.supports(request)) {
      return this.withConnection(url.host, method, url.href, direct.exchange(request, url, resolved, this.watchdog))
    }
    const transport = this.transport
    const phase = new Phase(this.watchdog)
    let outgoing = request
    if (resolved.userAgent !== undefined && request.headers["user-agent"] === undefined) {
      outgoing = HttpClientRequest.setHeader(outgoing, "user-agent", resolved.userAgent)
    }
    const send = (outgoing: HttpClientRequest.HttpClientRequest): Effect.Effect<Response, HttpError> => {
      let sent: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpError> = Effect.mapError(
        transport.execute(outgoing),
        (e) => fromClientError(e, request, url, resolved)
      )
      if (!resolved.tracing) sent = Effect.provideService(sent, HttpClient.TracerDisabledWhen, constTrue)
      return Effect.flatMap(sent, (response) => {
        phase.received()
        // the transport builds a new Headers object at every access: read it once
        const headers = response.headers
        return Effect.flatMap(
          readBody(response, headers, method, url, resolved.maxResponseBytes),
          (body): Effect.Effect<Response, HttpError> =>
            response.status >= 400
              ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
                Effect.fail(
                  new StatusError({
                    method,
                    url: url.href,
                    status: response.status,
                    headers,
                    body: decoder.decode(body),
                    retryAfter: parseRetryAfter(headers["retry-after"], now)
                  })
                ))
              : Effect.succeed(new Response(request, url.href, response.status, headers, body))
        )
      })
    }
    const deadlineHeader = resolved.deadlineHeader
    const exchange = deadlineHeader === undefined ? send(outgoing) : Effect.flatMap(
      Deadline.remaining,
      (remaining) =>
        send(
          Option.isSome(remaining)
            ? HttpClientRequest.setHeader(
              outgoing,
              deadlineHeader,
              String(Math.max(0, Math.floor(Duration.toMillis(remaining.value))))
            )
            : outgoing
        )
    )
    const timed = withPhaseTimeouts(exchange, phase, resolved.headersTimeout, resolved.requestTimeout, method, url.href)
    return this.withConnection(url.host, method, url.href, timed)
  }

  /** Runs `effect` holding a connection permit of `host`, waiting at most `poolWaitTimeout` for it. */
  withConnection<A>(
    host: string,
    method: string,
    href: string,
    effect: Effect.Effect<A, HttpError>
  ): Effect.Effect<A, HttpError> {
    const limiter = this.limiter
    const timeout = this.resolved.poolWaitTimeout
    if (timeout === undefined) return limiter.withPermit(host, effect)
    return Effect.flatMap(
      limiter.withPermitIfAvailable(host, effect),
      (fast) =>
        Option.isSome(fast) ? Effect.succeed(fast.value) : Effect.gen(function*() {
          // Slow path: a holder fiber waits for the permit so that only the wait is timed, then keeps the permit
          // until the exchange ends. The holder is a child: interrupting the caller interrupts it (no held permit).
          const granted = yield* Deferred.make<void>()
          const done = yield* Deferred.make<void>()
          const holder = yield* Effect.forkChild(
            limiter.withPermit(host, Effect.andThen(Deferred.succeed(granted, undefined), Deferred.await(done))),
            { startImmediately: true }
          )
          yield* Effect.timeoutOrElse(Deferred.await(granted), {
            duration: timeout,
            orElse: () =>
              Effect.andThen(
                Fiber.interrupt(holder),
                Effect.fail(new PoolWaitTimeoutError({ host, timeout, method, url: href }))
              )
          })
          return yield* Effect.ensuring(effect, Effect.andThen(Deferred.succeed(done, undefined), Fiber.await(holder)))
        })
    )
  }
}

/** One call of `execute`: its attempts (counted), its retries under the policy, and its accounting at the end. */
class Call {
  readonly client: ClientImpl
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: URL
  attempts = 0
  constructor(client: ClientImpl, request: HttpClientRequest.HttpClientRequest, url: URL) {
    this.client = client
    this.request = request
    this.url = url
  }

  /** One more attempt (behind the rate limit and breaker), counted. */
  readonly attempt: Effect.Effect<Response, HttpError> = Effect.suspend(() => {
    this.attempts++
    this.client.attempts++
    if (this.attempts > 1) this.client.retries++
    return this.client.guarded(this.request, this.url)
  })

  /** Whether the policy would look at this first failure at all (the rest fail as they are, as under it). */
  retryableFirst(error: HttpError): boolean {
    const retryOn = this.client.retryOn
    return retryOn !== undefined && retryOn(error)
  }

  /**
   * The call under the retry policy; with `first`, the first attempt already ran and failed with it: the policy
   * sees that failure as its first attempt's and the next attempt runs after its delay.
   */
  retried(
    first: HttpError | undefined,
    policy: Schedule.Schedule<Duration.Duration, HttpError, InvalidOptionError>
  ): Effect.Effect<Response, HttpError> {
    let replay = first
    const attempts = replay === undefined ? this.attempt : Effect.suspend(() => {
      if (replay === undefined) return this.attempt
      const e = replay
      replay = undefined
      return Effect.fail(e)
    })
    return Effect.catch(
      Effect.retry(attempts, policy),
      (e): Effect.Effect<never, HttpError> => e._tag === "InvalidOptionError" ? Effect.die(e) : Effect.fail(e)
    )
  }

  readonly onExit = (exit: Exit.Exit<Response, HttpError>): Effect.Effect<void> => {
    const client = this.client
    client.inFlight--
    if (Exit.isSuccess(exit)) {
      client.succeeded++
      exit.value.attempts = this.attempts
    } else if (Cause.hasFails(exit.cause)) {
      client.failed++
    }
    return Effect.void
  }
}

const parseUrl = (raw: string): URL | string => {
  const url = URL.parse(raw)
  if (url === null) return "not an absolute URL"
  if (url.protocol !== "http:" && url.protocol !== "https:") return `unsupported protocol ${url.protocol}`
  if (url.hostname === "") return "no host"
  return url
}

const isRetryableRequest = (request: HttpClientRequest.HttpClientRequest, methods: ReadonlySet<string>): boolean =>
  methods.has(request.method) || request.headers["idempotency-key"] !== undefined

/** @internal */
export const make = (
  options?: Options
): Effect.Effect<Client, InvalidOptionError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* validate(options)
    const transport = yield* HttpClient.HttpClient
    return yield* build(resolved, transport, undefined)
  })

/**
 * The client over `transport`, with `direct` (unless `tracing` is on: Effect's span and propagation headers are
 * made by its `HttpClient`, so that the direct exchange would lose them) for the requests it supports.
 *
 * @internal
 */
export const build = (
  resolved: Resolved,
  transport: HttpClient.HttpClient,
  direct: Direct | undefined
): Effect.Effect<Client, InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const limiter = yield* Limiter.keyed<string>({
      perKey: Number.isFinite(resolved.maxConnectionsPerHost) ? resolved.maxConnectionsPerHost : 2 ** 31,
      ...(Number.isFinite(resolved.maxConnections) ? { global: resolved.maxConnections } : {}),
      name: resolved.name,
      metrics: resolved.metrics
    })
    let breaker: CircuitBreaker.CircuitBreaker | undefined = undefined
    if (resolved.circuitBreaker !== undefined) {
      const store = yield* Layer.build(CircuitBreaker.layerStoreMemory())
      breaker = yield* Effect.provide(
        CircuitBreaker.make({
          tripPolicy: CircuitBreaker.consecutive(resolved.circuitBreaker.failures),
          openDuration: resolved.circuitBreaker.openDuration
        }),
        store
      )
    }
    let rateLimiter: RateLimiter.RateLimiter | undefined = undefined
    if (resolved.rateLimit !== undefined) {
      const store = yield* Layer.build(RateLimiter.layerStoreMemory)
      rateLimiter = yield* Effect.provide(RateLimiter.make, store)
    }
    const client = new ClientImpl(
      resolved,
      transport,
      resolved.tracing ? undefined : direct,
      limiter,
      breaker,
      rateLimiter
    )
    yield* Effect.addFinalizer(() => client.watchdog.close)
    yield* Registry.register({ kind: "HttpClient", name: client.name, stats: client.stats })
    return client
  })

/** @internal */
export const undiciOptions = (resolved: Resolved) => ({
  ...(Number.isFinite(resolved.maxConnectionsPerHost) ? { connections: resolved.maxConnectionsPerHost } : {}),
  ...(resolved.connectTimeout !== undefined ? { connect: { timeout: Duration.toMillis(resolved.connectTimeout) } } : {})
})
