/** @internal */
import { Bulkhead, Deadline, Metrics } from "@async-ops/core"
import * as InvalidOption from "@async-ops/core/InvalidOption"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as ByteSize from "effect/ByteSize"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import { hasBody } from "effect/http/HttpMethod"
import { causeResponse, HttpServerError, RequestParseError } from "effect/http/HttpServerError"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import type { HttpServerResponse } from "effect/http/HttpServerResponse"
import * as Response from "effect/http/HttpServerResponse"
import * as ProblemDetails from "effect/http/ProblemDetails"
import * as Latch from "effect/Latch"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type {
  AccessLogOptions,
  BodyLimitOptions,
  DeadlineHeaderOptions,
  InFlight,
  InFlightOptions,
  InFlightStats,
  LoadShedding,
  LoadSheddingOptions,
  Middleware,
  ProblemJsonOptions,
  ProblemSpec,
  TimeoutOptions
} from "../ServerKit.ts"

// ---------------------------------------------------------------------------------------------------------------
// helpers

const reasons: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

/** The reason phrase of a status (`"Error"` for one not in the table). @internal */
export const statusTitle = (status: number): string => reasons[status] ?? (status >= 500 ? "Server Error" : "Error")

/** An `application/problem+json` response. @internal */
export const problem = (
  status: number,
  detail?: string,
  extra?: { readonly type?: string | undefined; readonly title?: string | undefined }
): HttpServerResponse => {
  const body: { type: string; title: string; status: number; detail?: string } = {
    type: extra?.type ?? ProblemDetails.blankType,
    title: extra?.title ?? statusTitle(status),
    status
  }
  if (detail !== undefined) body.detail = detail
  return ProblemDetails.toResponse(body)
}

/** A duration option: `fallback` when absent, else `>= 0` (`> 0` unless `allowZero`). */
const durationOption = (
  module: string,
  option: string,
  value: Duration.Input | undefined,
  fallback: Duration.Duration,
  allowZero: boolean
): InvalidOption.Check<Duration.Duration> =>
  value === undefined
    ? Result.succeed(fallback)
    : InvalidOption.duration(module, option, value, { exclusive: !allowZero })

const currentRequest = (fiber: { readonly context: Context.Context<never> }): HttpServerRequest =>
  Context.getUnsafe(fiber.context, HttpServerRequest)

// ---------------------------------------------------------------------------------------------------------------
// in-flight tracking

class InFlightImpl implements InFlight {
  inFlight = 0
  peak = 0
  total = 0
  /** Made by a `drain` that finds requests in flight; opened and dropped when the count gets back to 0. */
  idle: Latch.Latch | undefined = undefined
  readonly gauge: Metric.Gauge<number> | undefined
  readonly counter: Metric.Counter<number> | undefined
  readonly context: Context.Context<never>

  constructor(name: string, metrics: boolean, context: Context.Context<never>) {
    this.context = context
    const attributes = { primitive: "ServerInFlight", name }
    this.gauge = metrics ? Metric.withAttributes(Metrics.inFlight, attributes) : undefined
    this.counter = metrics ? Metric.withAttributes(Metrics.acquired, attributes) : undefined
  }

  private enter(): void {
    if (++this.inFlight > this.peak) this.peak = this.inFlight
    this.total++
    if (this.gauge !== undefined) {
      this.gauge.updateUnsafe(this.inFlight, this.context)
      this.counter!.updateUnsafe(1, this.context)
    }
  }

  private readonly leave = (): undefined => {
    if (--this.inFlight === 0 && this.idle !== undefined) {
      const idle = this.idle
      this.idle = undefined
      idle.openUnsafe()
    }
    if (this.gauge !== undefined) this.gauge.updateUnsafe(this.inFlight, this.context)
    return undefined
  }

  // Counted and uncounted in one uninterruptible step each: no interruption can fall between `enter` and the
  // registration of `leave`. A synchronous `leave` (no Effect to run) and one `onExit` primitive per app, shared by
  // its requests, keep this cheap.
  readonly middleware: Middleware = (app) => {
    const tracked = Effect.onExitPrimitive(app, this.leave, true)
    return Effect.uninterruptibleMask((restore) => {
      this.enter()
      const restored = restore(app)
      return restored === app ? tracked : Effect.onExitPrimitive(restored, this.leave, true)
    })
  }

  readonly drain = (timeout?: Duration.Input): Effect.Effect<boolean, InvalidOptionError> =>
    Effect.suspend(() => {
      const checked = durationOption("ServerKit.InFlight.drain", "timeout", timeout, Duration.seconds(20), true)
      if (Result.isFailure(checked)) return Effect.fail(checked.failure)
      const limit = checked.success
      if (this.inFlight === 0) return Effect.succeed(true)
      this.idle ??= Latch.makeUnsafe(false)
      return this.idle.await.pipe(
        Effect.as(true),
        Effect.timeoutOrElse({ duration: limit, orElse: () => Effect.succeed(false) })
      )
    })

  readonly stats: Effect.Effect<InFlightStats> = Effect.sync(() => ({
    inFlight: this.inFlight,
    peak: this.peak,
    total: this.total
  }))
}

/** @internal */
export const inFlight = (options?: InFlightOptions): Effect.Effect<InFlight> =>
  Effect.map(
    Effect.context<never>(),
    (context) => new InFlightImpl(options?.name ?? "ServerInFlight", options?.metrics === true, context)
  )

// ---------------------------------------------------------------------------------------------------------------
// load shedding

/** @internal */
export const loadShedding = (options: LoadSheddingOptions): Effect.Effect<LoadShedding, InvalidOptionError> =>
  Effect.suspend(() => {
    const module = "ServerKit.loadShedding"
    const checked = durationOption(module, "retryAfter", options.retryAfter, Duration.seconds(1), true)
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const retryAfter = checked.success
    const seconds = String(Math.ceil(Duration.toMillis(retryAfter) / 1000))
    const bulkheadOptions: Bulkhead.Options = {
      maxConcurrent: options.maxConcurrent,
      maxQueued: options.maxQueued,
      name: options.name ?? "ServerLoadShedding",
      ...(options.queueTimeout === undefined ? {} : { queueTimeout: options.queueTimeout }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics })
    }
    return Effect.map(
      Effect.mapError(
        Bulkhead.make(bulkheadOptions),
        (e) => new InvalidOptionError({ module, option: e.option, expected: e.expected, value: e.value })
      ),
      (bulkhead): LoadShedding => {
        const rejected = (error: Bulkhead.BulkheadRejectedError) =>
          Effect.succeed(
            problem(
              503,
              error.reason === "queue-full"
                ? "The server is at capacity; retry later"
                : "The request waited too long for capacity; retry later"
            ).pipe(Response.setHeader("retry-after", seconds))
          )
        return {
          bulkhead,
          stats: bulkhead.stats,
          // Interruptible, so a queued request whose client goes away leaves the queue at once, also in
          // `HttpRouter.serve`'s middleware, which Effect runs uninterruptibly (the router makes the handler
          // interruptible anyway). Keeping the app's own interruptibility instead (`uninterruptibleMask`) measured
          // 2.5x the cost of the bulkhead itself.
          middleware: (app) =>
            Effect.catchIf(
              Effect.interruptible(bulkhead.withPermit(app)),
              Bulkhead.isBulkheadRejectedError,
              rejected
            ) as any
        }
      }
    )
  })

// ---------------------------------------------------------------------------------------------------------------
// request timeout

/** A request whose app is still running: its fiber and when it must end. */
class Pending {
  readonly fiber: Fiber.Fiber<HttpServerResponse, unknown>
  readonly deadline: number
  timedOut = false
  constructor(fiber: Fiber.Fiber<HttpServerResponse, unknown>, deadline: number) {
    this.fiber = fiber
    this.deadline = deadline
  }
}

/**
 * The running requests of one timeout middleware, in arrival order, and one timer for all of them. Every request
 * gets the same duration, so arrival order is deadline order: the oldest entry is the next to expire, an insertion
 * or a removal is O(1) (a `Set` keeps insertion order), and one sleeping fiber, armed while the set is not empty,
 * wakes at the oldest deadline, interrupts what has expired and sleeps until the next. It is interrupted as soon
 * as the set empties, so nothing is left behind when the server goes idle.
 */
class Timeouts {
  readonly pending = new Set<Pending>()
  readonly millis: number
  readonly delay: Duration.Duration
  sleeper: Fiber.Fiber<void> | undefined = undefined

  constructor(duration: Duration.Duration) {
    this.delay = duration
    this.millis = Duration.toMillis(duration)
  }

  add(entry: Pending, context: Context.Context<never>): void {
    this.pending.add(entry)
    // The sleep suspends (the duration is > 0), so `sleeper` is set before `expire` can run.
    if (this.sleeper === undefined) {
      this.sleeper = Effect.runForkWith(context)(Effect.andThen(Effect.sleep(this.delay), this.expire))
    }
  }

  remove(entry: Pending): void {
    if (!this.pending.delete(entry) || this.pending.size > 0 || this.sleeper === undefined) return
    const sleeper = this.sleeper
    this.sleeper = undefined
    sleeper.interruptUnsafe()
  }

  readonly expire: Effect.Effect<void> = Effect.withFiber((fiber) => {
    const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
    for (const entry of this.pending) {
      if (entry.deadline > now) {
        return Effect.andThen(Effect.sleep(Duration.millis(entry.deadline - now)), this.expire)
      }
      this.pending.delete(entry)
      entry.timedOut = true
      // May run the request's finalizers and resume its middleware right here, which may add or remove entries.
      entry.fiber.interruptUnsafe(fiber.id)
      if (this.sleeper !== fiber) return Effect.void
    }
    this.sleeper = undefined
    return Effect.void
  })
}

/** @internal */
export const timeout = (options: TimeoutOptions): Effect.Effect<Middleware, InvalidOptionError> =>
  Effect.suspend(() => {
    const checked = Result.all([
      InvalidOption.duration("ServerKit.timeout", "duration", options.duration, { exclusive: true }),
      InvalidOption.oneOf("ServerKit.timeout", "status", options.status ?? 503, [503, 504])
    ])
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const [duration, status] = checked.success
    const timedOut = Effect.succeed(problem(status, `The request did not complete within ${Duration.format(duration)}`))
    const timeouts = new Timeouts(duration)
    // The request waits (interruptibly: a client that goes away interrupts it) for the app's fiber to end, and the
    // shared timer interrupts that fiber when the duration passes. However the wait ends, the entry is gone and the
    // app's fiber has ended (its finalizers have run) before the middleware returns.
    const wait = (
      parent: Fiber.Fiber<unknown, unknown>,
      fiber: Fiber.Fiber<HttpServerResponse, unknown>
    ): Effect.Effect<HttpServerResponse, unknown> => {
      const entry = new Pending(fiber, parent.getRef(Clock.Clock).currentTimeMillisUnsafe() + timeouts.millis)
      timeouts.add(entry, parent.context)
      return Effect.flatMap(
        Effect.onExitPrimitive(Effect.interruptible(Fiber.await(fiber)), (exit) => {
          timeouts.remove(entry)
          return exit._tag === "Failure" ? Fiber.interrupt(fiber) : undefined
        }),
        (exit) => entry.timedOut ? timedOut : exit
      )
    }
    // The app runs at once in a fiber of its own (interruptible, as a bare handler is) with the request's context:
    // most requests end before it first yields, and then nothing else happens (no entry, no timer). The fiber is
    // forked detached (`Effect.runForkWith`, no parent to register with) since it cannot outlive the middleware,
    // which waits for it or interrupts it; forked and, if still running, registered in one uninterruptible step,
    // so no interruption falls in between. Measured: less than half the cost of `Effect.forkChild` (which the
    // previous version used, with `Effect.timeoutOption` and so two more fibers and a timer per slow request).
    const middleware: Middleware = (app) => {
      const start = () => {
        const parent = Fiber.getCurrent()!
        const fiber = Effect.runForkWith(parent.context)(app as Effect.Effect<HttpServerResponse, unknown>)
        return fiber.pollUnsafe() ?? wait(parent, fiber)
      }
      return Effect.uninterruptibleMask(start) as any
    }
    return Effect.succeed(middleware)
  })

// ---------------------------------------------------------------------------------------------------------------
// body size limit

const isBodyTooLarge = (u: unknown): boolean =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "HttpServerError" &&
  (u as HttpServerError).reason._tag === "RequestParseError" &&
  ((u as HttpServerError).reason as RequestParseError).reason === "BodyTooLarge"

/** @internal */
export const bodyLimit = (options: BodyLimitOptions): Effect.Effect<Middleware, InvalidOptionError> =>
  Effect.suspend(() => {
    const checked = InvalidOption.int("ServerKit.bodyLimit", "maxBytes", options.maxBytes, { min: 0 })
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const maxBytes = checked.success
    const size = ByteSize.bytes(maxBytes)
    const tooLarge = problem(413, `The request body exceeds the limit of ${maxBytes} bytes`)
    const tooLargeEffect = Effect.succeed(tooLarge)
    const middleware: Middleware = (app) =>
      Effect.withFiber((fiber) => {
        const request = currentRequest(fiber)
        const headers = request.headers
        const length = headers["content-length"]
        if (length !== undefined) {
          // HTTP/1.1 framing: the parser never delivers more body than Content-Length announces.
          return Number(length) > maxBytes ? tooLargeEffect : app
        }
        // Neither Content-Length nor Transfer-Encoding: no body, unless the method carries one (HTTP/2).
        if (headers["transfer-encoding"] === undefined && !hasBody(request.method)) return app
        // A streamed body (no Content-Length): `json`/`text`/`arrayBuffer` obey `MaxBodySize`; `stream` is counted.
        const limited: HttpServerRequest = Object.create(request, {
          stream: {
            get: () =>
              Stream.suspend(() => {
                let read = 0
                return Stream.mapArrayEffect(request.stream, (chunk) => {
                  for (const bytes of chunk) read += bytes.length
                  return read > maxBytes
                    ? Effect.fail(
                      new HttpServerError({
                        reason: new RequestParseError({ request, reason: "BodyTooLarge" })
                      })
                    )
                    : Effect.succeed(chunk)
                })
              })
          }
        })
        return app.pipe(
          Effect.provideService(HttpServerRequest, limited),
          Effect.provideService(HttpIncomingMessage.MaxBodySize, size),
          Effect.catchIf(isBodyTooLarge, () => tooLargeEffect)
        )
      }) as any
    return Effect.succeed(middleware)
  })

// ---------------------------------------------------------------------------------------------------------------
// problem+json

/** @internal */
export const problemJson = (options?: ProblemJsonOptions): Middleware => {
  const map = options?.errors ?? {}
  const exposeDefects = options?.exposeDefects === true
  const fromError = (error: unknown): HttpServerResponse => {
    const tag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined
    if (typeof tag === "string" && Object.hasOwn(map, tag)) {
      const entry = map[tag]!
      const spec: ProblemSpec = typeof entry === "number" ? { status: entry } : entry
      const message = (error as { message?: unknown }).message
      const detail = spec.detail !== undefined
        ? spec.detail(error)
        : typeof message === "string" && message !== ""
        ? message
        : undefined
      return problem(spec.status, detail, { type: spec.type, title: spec.title })
    }
    if (tag === "HttpServerError") {
      const reason = (error as HttpServerError).reason
      if (reason._tag === "RequestParseError") {
        return reason.reason === "BodyTooLarge" ? problem(413) : problem(400, "The request could not be parsed")
      }
      if (reason._tag === "RouteNotFound") return problem(404)
    }
    return problem(500, exposeDefects ? String((error as { message?: unknown })?.message ?? error) : undefined)
  }
  return (app) =>
    Effect.catchCause(app, (cause) => {
      const failure = cause.reasons.find(Cause.isFailReason)
      if (failure !== undefined) return Effect.succeed(fromError(failure.error))
      const die = cause.reasons.find(Cause.isDieReason)
      if (die !== undefined) {
        const defect = die.defect
        const detail = exposeDefects
          ? (defect instanceof Error ? defect.message : String(defect))
          : undefined
        return Effect.as(
          Effect.logError("Unhandled defect answered with 500", Cause.fromReasons([die])),
          problem(500, detail)
        )
      }
      // Interruption only: let the server answer it (client gone, shutdown).
      return Effect.failCause(cause) as Effect.Effect<never>
    })
}

// ---------------------------------------------------------------------------------------------------------------
// access log

const logLevels: ReadonlyArray<LogLevel.Severity> = ["Fatal", "Error", "Warn", "Info", "Debug", "Trace"]

/** @internal */
export const accessLog = (options?: AccessLogOptions): Effect.Effect<Middleware, InvalidOptionError> =>
  Effect.suspend(() => {
    const checked = InvalidOption.oneOf("ServerKit.accessLog", "level", options?.level ?? "Info", logLevels)
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const level = checked.success
    const log = Effect.logWithLevel(level)
    const middleware: Middleware = (app) =>
      Effect.withFiber((fiber) => {
        // Below the minimum log level: nothing to measure or format.
        if (LogLevel.isGreaterThan(fiber.getRef(References.MinimumLogLevel), level)) return app
        const request = currentRequest(fiber)
        const clock = fiber.getRef(Clock.Clock)
        const start = clock.currentTimeNanosUnsafe()
        const url = request.url
        const q = url.indexOf("?")
        const path = q === -1 ? url : url.slice(0, q)
        const write = (status: number) => {
          const ms = Math.round(Number(clock.currentTimeNanosUnsafe() - start) / 1e4) / 100
          return log(`${request.method} ${path} ${status} ${ms}ms`).pipe(
            Effect.annotateLogs({
              "http.method": request.method,
              "http.path": path,
              "http.status": status,
              "http.duration_ms": ms
            })
          )
        }
        // A failure: the status the server will answer it with (Effect's own rendering of the cause).
        return Effect.onExit(app, (exit) =>
          exit._tag === "Success"
            ? write(exit.value.status)
            : Effect.flatMap(causeResponse(exit.cause), ([response]) => write(response.status)))
      })
    return Effect.succeed(middleware)
  })

// ---------------------------------------------------------------------------------------------------------------
// deadline header

/** @internal */
export const deadlineHeader = (options?: DeadlineHeaderOptions): Effect.Effect<Middleware, InvalidOptionError> =>
  Effect.suspend(() => {
    const module = "ServerKit.deadlineHeader"
    const checked = Result.all([
      InvalidOption.check(
        module,
        "header",
        options?.header ?? "x-deadline-ms",
        (h) => typeof h === "string" && /^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(h),
        "an HTTP header name"
      ),
      InvalidOption.oneOf(module, "format", options?.format ?? "relative", ["relative", "absolute"]),
      durationOption(module, "max", options?.max, Duration.infinity, false)
    ])
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const [headerName, format, max] = checked.success
    const header = headerName.toLowerCase()
    const maxMillis = Duration.toMillis(max)
    const expired = problem(504, "The caller's deadline passed before the request completed")
    const middleware: Middleware = (app) =>
      Effect.withFiber((fiber) => {
        const raw = currentRequest(fiber).headers[header]
        if (raw === undefined) return app
        const value = Number(raw)
        if (raw.trim() === "" || !Number.isFinite(value) || (format === "relative" && value < 0)) return app
        const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
        const deadline = Math.min(format === "relative" ? now + value : value, now + maxMillis)
        // Interruptible, like a bare handler: a client that goes away interrupts the wait and the work.
        return Effect.interruptible(Deadline.at(app, deadline)).pipe(
          Effect.catchIf(
            (e): e is Deadline.DeadlineExceededError => Deadline.isDeadlineExceededError(e),
            () => Effect.succeed(expired)
          )
        ) as any
      })
    return Effect.succeed(middleware)
  })
