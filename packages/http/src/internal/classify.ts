/**
 * Classification: transport failures as the client's typed errors, `Retry-After`, and which failures are retried
 * or count against a host's circuit.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Option from "effect/Option"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import type { HttpError } from "../HttpResilienceError.ts"
import { ConnectError, ConnectionLostError, MalformedUrlError, RequestTimeoutError } from "../HttpResilienceError.ts"
import type { Resolved } from "./clientOptions.ts"
import type { Response } from "./response.ts"

/** System error codes that mean the connection was never made (a ConnectError; anything else is a ConnectionLostError). */
export const CONNECT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "EHOSTDOWN"
])

/** @internal */
export const codeOf = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}

/** @internal */
export const fromClientError = (
  error: HttpClientError.HttpClientError,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  resolved: Resolved
): HttpError => {
  const reason = error.reason
  if (reason._tag === "InvalidUrlError") {
    return new MalformedUrlError({ url: request.url, reason: String(reason.cause) })
  }
  return fromTransportCause("cause" in reason ? reason.cause : undefined, request.method, url, resolved)
}

/**
 * The typed error of a transport failure before the response head (the error undici reported, or its cause):
 * undici's connect timeout, a connect failure by its code, else a `ConnectionLostError`.
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
  return code !== undefined && CONNECT_CODES.has(code) ? new ConnectError(fields) : new ConnectionLostError(fields)
}

/**
 * The typed error of a response body that broke off after the head.
 *
 * @internal
 */
export const brokenBody = (cause: unknown, method: string, url: URL): ConnectionLostError =>
  new ConnectionLostError({ method, url: url.href, host: url.host, code: codeOf(cause), cause })

/** @internal */
export const parseRetryAfter = (value: string | undefined, now: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Duration.millis(Math.max(0, at - now))
}

/** @internal */
export const isRetryableError = (resolved: NonNullable<Resolved["retry"]>) => (error: HttpError): boolean => {
  switch (error._tag) {
    case "ConnectError":
    case "ConnectionLostError":
    case "RequestTimeoutError":
      return true
    case "StatusError":
      return resolved.statuses.has(error.status)
    default:
      return false
  }
}

/**
 * An HTTP failure that counts against a host's circuit: it says the host is unwell.
 *
 * @internal
 */
export const breakerOutcome = (exit: Exit.Exit<Response, HttpError>): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return CircuitBreaker.ignored
  switch (error.value._tag) {
    case "ConnectError":
    case "ConnectionLostError":
    case "RequestTimeoutError":
      return CircuitBreaker.failure()
    case "StatusError":
      return error.value.status >= 500 ? CircuitBreaker.failure() : CircuitBreaker.success
    default:
      return CircuitBreaker.ignored
  }
}
