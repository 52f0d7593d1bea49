/**
 * The resilient client's direct exchange on an undici `Dispatcher` (what `HttpResilience.layerUndici` uses), instead
 * of Effect's `HttpClient` on the same dispatcher: one `dispatcher.dispatch` with a handler per attempt, whose body
 * chunks are collected under the size cap, and whose phase timeouts sit on the client's shared timers. It skips
 * what the `HttpClient` path adds per request and the resilient client does not use: the `AbortController`, the
 * response wrappers and their `FinalizationRegistry`, the body as a Node stream read through a promise, and the fiber
 * that runs the exchange so that a timeout can interrupt it (here a timeout aborts the request itself).
 *
 * @internal
 */
import * as Deadline from "@async-ops/core/Deadline"
import type * as Undici from "@effect/platform-node/Undici"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Headers from "effect/http/Headers"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Url from "effect/http/Url"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import {
  BodyTooLargeError,
  type HttpError,
  MalformedUrlError,
  RequestTimeoutError,
  StatusError
} from "../HttpResilienceError.ts"
import { BodyBuffer, contentLength } from "./body.ts"
import { brokenBody, fromTransportCause, parseRetryAfter } from "./classify.ts"
import type { Direct } from "./client.ts"
import type { Resolved } from "./clientOptions.ts"
import { decoder, Response } from "./response.ts"
import type { Pending, Watchdog } from "./watchdog.ts"

/** Undici's per-request timeouts off, as Effect's undici client does: the client's own phase timeouts apply. */
const HEADERS_TIMEOUT = 60 * 60 * 1000

/** The request bodies sent directly; a `FormData` or `Stream` body goes through Effect's `HttpClient`. */
const supports = (request: HttpClientRequest.HttpClientRequest): boolean => {
  const tag = request.body._tag
  return (tag === "Empty" || tag === "Uint8Array" || tag === "Raw") && request.headers["upgrade"] === undefined
}

/** The path and query sent: the URL's, with the request's `urlParams` appended as Effect's client does. */
const pathOf = (request: HttpClientRequest.HttpClientRequest, url: URL): string | MalformedUrlError => {
  if (request.urlParams.params.length === 0) return url.pathname + url.search
  const full = Url.make(request.url, request.urlParams, undefined)
  if (Result.isFailure(full)) return new MalformedUrlError({ url: request.url, reason: String(full.failure.cause) })
  return full.success.pathname + full.success.search
}

/** The request headers as undici's flat `[name, value, ...]` list, with the client's `user-agent` and deadline. */
const headersOf = (
  request: HttpClientRequest.HttpClientRequest,
  resolved: Resolved,
  remaining: Option.Option<Duration.Duration>
): Array<string> => {
  const headers = request.headers
  // the client's deadline header replaces one of the request's of the same name, as `setHeader` does on the other
  // path (header names in `Headers` are lower-case)
  const deadline = resolved.deadlineHeader !== undefined && Option.isSome(remaining)
    ? String(Math.max(0, Math.floor(Duration.toMillis(remaining.value))))
    : undefined
  const deadlineName = deadline === undefined ? undefined : resolved.deadlineHeader!.toLowerCase()
  const out: Array<string> = []
  for (const name of Object.keys(headers)) {
    if (name !== deadlineName) out.push(name, headers[name]!)
  }
  if (resolved.userAgent !== undefined && headers["user-agent"] === undefined) {
    out.push("user-agent", resolved.userAgent)
  }
  if (deadlineName !== undefined) out.push(deadlineName, deadline!)
  return out
}

type Body = Exclude<Undici.Dispatcher.DispatchOptions["body"], undefined>

const bodyOf = (request: HttpClientRequest.HttpClientRequest): Body => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return body.body
    case "Raw":
      return body.body as Body
    default:
      return null
  }
}

/**
 * One attempt's exchange: undici's handler, and the settlement of the attempt (once) by the response, an error,
 * a timeout or an interruption; each of the last three aborts the request if it is still going.
 */
class Exchange implements Undici.Dispatcher.DispatchHandler {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: URL
  readonly resolved: Resolved
  readonly watchdog: Watchdog
  readonly clock: Clock.Clock
  readonly limit: number
  readonly emptyBody: boolean
  resume: ((effect: Effect.Effect<Response, HttpError>) => void) | undefined = undefined
  controller: Undici.Dispatcher.DispatchController | undefined = undefined
  /** Why the request is to be aborted, when that was decided before undici started it. */
  abortReason: Error | undefined = undefined
  headersEntry: Pending | undefined = undefined
  requestEntry: Pending | undefined = undefined
  settled = false
  status = 0
  headers: Headers.Headers = Headers.empty
  readonly body: BodyBuffer

  constructor(
    request: HttpClientRequest.HttpClientRequest,
    url: URL,
    resolved: Resolved,
    watchdog: Watchdog,
    clock: Clock.Clock
  ) {
    this.request = request
    this.url = url
    this.resolved = resolved
    this.watchdog = watchdog
    this.clock = clock
    this.limit = resolved.maxResponseBytes
    this.body = new BodyBuffer(resolved.maxResponseBytes)
    this.emptyBody = request.method === "HEAD"
  }

  /** Marks the attempt settled and lets go of its deadlines; false if it already was. */
  finish(): boolean {
    if (this.settled) return false
    this.settled = true
    const watchdog = this.watchdog
    if (this.headersEntry !== undefined) {
      watchdog.headers.delete(this.headersEntry)
      this.headersEntry = undefined
    }
    if (this.requestEntry !== undefined) {
      watchdog.requests.delete(this.requestEntry)
      this.requestEntry = undefined
    }
    watchdog.released()
    return true
  }

  /** Settles the attempt with `effect` (the first settlement wins). */
  settle(effect: Effect.Effect<Response, HttpError>): void {
    if (!this.finish()) return
    const resume = this.resume!
    this.resume = undefined
    resume(effect)
  }

  /** The caller was interrupted: the request is aborted and nothing resumes. */
  readonly cancel = Effect.sync(() => {
    if (this.finish()) this.abort(new Error("The request was interrupted"))
  })

  /** Aborts the request: now if undici started it, else when it does. */
  abort(reason: Error): void {
    if (this.controller !== undefined) this.controller.abort(reason)
    else this.abortReason = reason
  }

  fail(error: HttpError): void {
    if (this.settled) return
    this.settle(Effect.fail(error))
    this.abort(error)
  }

  readonly expire = (phase: "headers" | "request", timeout: Duration.Duration) => (): void => {
    const which = phase === "headers" ? this.headersEntry : this.requestEntry
    // the watchdog removed the entry it expires
    if (phase === "headers") this.headersEntry = undefined
    else this.requestEntry = undefined
    if (which === undefined) return
    this.fail(new RequestTimeoutError({ phase, timeout, method: this.request.method, url: this.url.href }))
  }

  onRequestStart(controller: Undici.Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.abortReason !== undefined) controller.abort(this.abortReason)
  }

  onResponseStart(
    _controller: Undici.Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | Array<string> | undefined>
  ): void {
    if (statusCode < 200 || this.settled) return
    this.status = statusCode
    this.headers = Headers.fromInput(headers)
    if (this.headersEntry !== undefined) {
      this.watchdog.headers.delete(this.headersEntry)
      this.headersEntry = undefined
    }
    if (this.emptyBody || statusCode === 204 || statusCode === 304) return
    const size = contentLength(this.headers)
    if (size !== undefined && size > this.limit) {
      this.fail(
        new BodyTooLargeError({ method: this.request.method, url: this.url.href, limit: this.limit, received: size })
      )
    }
  }

  onResponseData(_controller: Undici.Dispatcher.DispatchController, chunk: Uint8Array): void {
    if (this.settled || this.emptyBody) return
    if (!this.body.push(chunk)) {
      this.fail(
        new BodyTooLargeError({
          method: this.request.method,
          url: this.url.href,
          limit: this.limit,
          received: this.body.size
        })
      )
    }
  }

  onResponseEnd(): void {
    if (this.settled) return
    // a copy of a lone chunk: undici's chunk may be a view of a larger buffer
    const body = this.body.take(true)
    const request = this.request
    const url = this.url
    const headers = this.headers
    const status = this.status
    this.settle(
      status >= 400
        ? Effect.fail(
          new StatusError({
            method: request.method,
            url: url.href,
            status,
            headers,
            body: decoder.decode(body),
            retryAfter: parseRetryAfter(headers["retry-after"], this.clock.currentTimeMillisUnsafe())
          })
        )
        : Effect.succeed(new Response(request, url.href, status, headers, body))
    )
  }

  onResponseError(_controller: Undici.Dispatcher.DispatchController | null, error: Error): void {
    if (this.settled) return
    const request = this.request
    this.settle(Effect.fail(
      this.status === 0
        ? fromTransportCause(error, request.method, this.url, this.resolved)
        : brokenBody(error, request.method, this.url)
    ))
  }
}

/**
 * The direct exchange on `dispatcher` (an undici `Agent` the caller owns).
 *
 * @internal
 */
export const make = (dispatcher: Undici.Dispatcher): Direct => ({
  supports,
  exchange: (request, url, resolved, watchdog) => {
    const path = pathOf(request, url)
    if (typeof path !== "string") return Effect.fail(path)
    const run = (remaining: Option.Option<Duration.Duration>) =>
      Effect.withFiber((fiber) => {
        const clock = fiber.getRef(Clock.Clock)
        const exchange = new Exchange(request, url, resolved, watchdog, clock)
        const options: Undici.Dispatcher.DispatchOptions = {
          origin: url.origin,
          path,
          method: request.method as Undici.Dispatcher.HttpMethod,
          headers: headersOf(request, resolved, remaining),
          body: bodyOf(request),
          headersTimeout: HEADERS_TIMEOUT,
          bodyTimeout: 0
        }
        const headersTimeout = resolved.headersTimeout
        const requestTimeout = resolved.requestTimeout
        const useHeaders = headersTimeout !== undefined &&
          (requestTimeout === undefined || Duration.isLessThan(headersTimeout, requestTimeout))
        return Effect.callback<Response, HttpError>((resume) => {
          exchange.resume = resume
          if (useHeaders || requestTimeout !== undefined) {
            const start = clock.currentTimeMillisUnsafe()
            let first = Infinity
            if (useHeaders) {
              exchange.headersEntry = watchdog.add(
                "headers",
                start + Duration.toMillis(headersTimeout),
                exchange.expire("headers", headersTimeout)
              )
              first = exchange.headersEntry.at
            }
            if (requestTimeout !== undefined) {
              exchange.requestEntry = watchdog.add(
                "request",
                start + Duration.toMillis(requestTimeout),
                exchange.expire("request", requestTimeout)
              )
              first = Math.min(first, exchange.requestEntry.at)
            }
            watchdog.arm(first, fiber.context as Context.Context<never>)
          }
          try {
            // a synchronous failure (a bad option, a destroyed agent) calls `onResponseError` or throws
            dispatcher.dispatch(options, exchange)
          } catch (cause) {
            exchange.onResponseError(null, cause instanceof Error ? cause : new Error(String(cause)))
          }
          return exchange.cancel
        })
      })
    return resolved.deadlineHeader === undefined ? run(Option.none()) : Effect.flatMap(Deadline.remaining, run)
  }
})
