/**
 * The resilient client: a call's retries around attempts, each behind the rate limit, the circuit breaker and a
 * connection permit, then the exchange (the transport's, or a direct one) under its phase timeouts.
 *
 * @internal
 */
import { Deadline, Registry, Retry } from "@async-ops/core"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { constTrue } from "effect/Function"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as RateLimiter from "effect/persistence/RateLimiter"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Options } from "../HttpResilience.ts"
import type { HttpError } from "../HttpResilienceError.ts"
import {
  CircuitOpenError,
  ConnectionLostError,
  MalformedUrlError,
  PoolWaitTimeoutError,
  RateLimitedError,
  StatusError
} from "../HttpResilienceError.ts"
import { ConnectionAdmission, type ConnectionLimiter, type ConnectionLimiterError } from "./admission.ts"
import { readBody } from "./body.ts"
import { breakerOutcome, fromClientError, isRetryableError, parseRetryAfter } from "./classify.ts"
import { type Resolved, validate } from "./clientOptions.ts"
import { decoder, Response } from "./response.ts"
import { Phase, Watchdog, withPhaseTimeouts } from "./watchdog.ts"

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
export interface ResilientClient {
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
export const ResilientClient: Context.Service<ResilientClient, ResilientClient> = Context.Service<ResilientClient>(
  "@async-ops/http/HttpResilience/ResilientClient"
)

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

class ClientImpl implements ResilientClient {
  readonly name: string
  readonly resolved: Resolved
  readonly transport: HttpClient.HttpClient
  readonly direct: Direct | undefined
  readonly limiter: ConnectionLimiter
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
    limiter: ConnectionLimiter,
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
    return Effect.forEach(Array.from(this.breakerHosts), (host) => breaker.state(host)).pipe(
      Effect.map((states) => Object.freeze(Object.fromEntries(states.map((s) => [s.key, breakerState(s)])))),
      // a shared store (Redis) may not answer: stats never fail, they show no circuits then
      Effect.orElseSucceed(() => noBreakers)
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
      if (typeof url === "string") return Effect.fail(new MalformedUrlError({ url: request.url, reason: url }))
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
    const lost = (e: ConnectionLimiterError): Effect.Effect<never, HttpError> =>
      Effect.fail(new ConnectionLostError({ method, url: href, host, code: e.reason, cause: e.cause }))
    return Effect.catchTag(this.admitted(host, method, href, effect), "ConnectionLimiterError", lost)
  }

  admitted<A>(
    host: string,
    method: string,
    href: string,
    effect: Effect.Effect<A, HttpError>
  ): Effect.Effect<A, HttpError | ConnectionLimiterError> {
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
): Effect.Effect<ResilientClient, InvalidOptionError, HttpClient.HttpClient | Scope.Scope> =>
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
): Effect.Effect<ResilientClient, InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const makeLimiter = yield* ConnectionAdmission
    const limiter = yield* makeLimiter({
      name: resolved.name,
      perHost: resolved.maxConnectionsPerHost,
      total: resolved.maxConnections,
      metrics: resolved.metrics
    })
    let breaker: CircuitBreaker.CircuitBreaker | undefined = undefined
    if (resolved.circuitBreaker !== undefined) {
      // a CircuitBreakerStore in context (`CircuitBreaker.layerStoreRedis`: state shared by the fleet) wins over
      // the process-local one
      const shared = yield* Effect.serviceOption(CircuitBreaker.CircuitBreakerStore)
      const store = Option.isSome(shared)
        ? Context.make(CircuitBreaker.CircuitBreakerStore, shared.value)
        : yield* Layer.build(CircuitBreaker.layerStoreMemory())
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
      // likewise a RateLimiterStore in context (`RateLimiter.layerStoreRedis`: one window for the fleet)
      const shared = yield* Effect.serviceOption(RateLimiter.RateLimiterStore)
      const store = Option.isSome(shared)
        ? Context.make(RateLimiter.RateLimiterStore, shared.value)
        : yield* Layer.build(RateLimiter.layerStoreMemory)
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
