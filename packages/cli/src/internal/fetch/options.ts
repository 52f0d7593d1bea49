/**
 * `async-ops fetch`'s flags, checked and resolved into the run's settings.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { MAX_REDIRECTS, MAX_RETRIES } from "../limits.ts"
import { UsageError } from "../usage.ts"

/** @internal */
export interface FetchOptions {
  readonly input: string
  readonly out: string | undefined
  readonly ordered: boolean
  readonly concurrency: number
  readonly perHost: number
  readonly timeout: string
  readonly retries: number
  readonly rate: number | undefined
  readonly maxBytes: number
  readonly headers: ReadonlyArray<string>
  readonly method: string
  readonly resume: boolean
  readonly quiet: boolean
  readonly grace: string
  /** Redirects followed per request (0: none, a 3xx is then the record's status). */
  readonly maxRedirects: number
  /** Write an HTML report of the run to this path. */
  readonly report?: string | undefined
}

export { MAX_REDIRECTS, MAX_RETRIES } from "../limits.ts"

export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const
export type Method = typeof METHODS[number]

/**
 * Parses a duration flag: a number of milliseconds (`1500`), or a number with a unit (`500ms`, `2s`, `1m`, or
 * Effect's `"2 seconds"`).
 *
 * @internal
 */
export const parseDuration = (flag: string, value: string): Result.Result<Duration.Duration, UsageError> => {
  const trimmed = value.trim()
  if (trimmed.startsWith("-")) {
    return Result.fail(new UsageError({ reason: `--${flag} must not be negative, got ${value}` }))
  }
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(trimmed)
  if (short !== null) {
    const n = Number(short[1])
    const unit = short[2] ?? "ms"
    return Result.succeed(Duration.millis(unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000))
  }
  const decoded = Duration.fromInput(trimmed as Duration.Input)
  if (decoded._tag === "Some" && Duration.isFinite(decoded.value) && Duration.toMillis(decoded.value) >= 0) {
    return Result.succeed(decoded.value)
  }
  return Result.fail(new UsageError({ reason: `--${flag} must be a duration like 500ms, 2s or 1m, got ${value}` }))
}

/** @internal */
export const checkInt = (
  flag: string,
  value: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER
): Result.Result<number, UsageError> =>
  Number.isInteger(value) && value >= min && value <= max
    ? Result.succeed(value)
    : Result.fail(
      new UsageError({
        reason: max === Number.MAX_SAFE_INTEGER
          ? `--${flag} must be an integer >= ${min}, got ${value}`
          : `--${flag} must be an integer from ${min} to ${max}, got ${value}`
      })
    )

export const parseHeader = (raw: string): Result.Result<readonly [string, string], UsageError> => {
  const colon = raw.indexOf(":")
  const name = colon === -1 ? "" : raw.slice(0, colon).trim()
  if (colon === -1 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || /[\r\n]/.test(raw)) {
    return Result.fail(new UsageError({ reason: `--header must look like "Name: value", got ${JSON.stringify(raw)}` }))
  }
  return Result.succeed([name, raw.slice(colon + 1).trim()])
}

export const fromResult = <A, E>(r: Result.Result<A, E>): Effect.Effect<A, E> =>
  Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)

export interface Resolved {
  readonly concurrency: number
  readonly perHost: number
  readonly timeout: Duration.Duration
  readonly retries: number
  readonly rate: number | undefined
  readonly maxBytes: number
  readonly headers: Record<string, string>
  readonly method: Method
  readonly grace: Duration.Duration
  readonly maxRedirects: number
}

/** @internal */
export const resolveOptions = (o: FetchOptions): Effect.Effect<Resolved, UsageError> =>
  Effect.gen(function*() {
    const concurrency = yield* fromResult(checkInt("concurrency", o.concurrency, 1))
    const perHost = yield* fromResult(checkInt("per-host", o.perHost, 1))
    const retries = yield* fromResult(checkInt("retries", o.retries, 0, MAX_RETRIES))
    const maxRedirects = yield* fromResult(checkInt("max-redirects", o.maxRedirects, 0, MAX_REDIRECTS))
    const maxBytes = yield* fromResult(checkInt("max-bytes", o.maxBytes, 0))
    const rate = o.rate === undefined ? undefined : yield* fromResult(checkInt("rate", o.rate, 1))
    const timeout = yield* fromResult(parseDuration("timeout", o.timeout))
    if (Duration.isZero(timeout)) return yield* new UsageError({ reason: "--timeout must be > 0" })
    const grace = yield* fromResult(parseDuration("grace", o.grace))
    const headers: Record<string, string> = {}
    for (const raw of o.headers) {
      const [name, value] = yield* fromResult(parseHeader(raw))
      headers[name] = value
    }
    const method = o.method.toUpperCase()
    if (!(METHODS as ReadonlyArray<string>).includes(method)) {
      return yield* new UsageError({ reason: `--method must be one of ${METHODS.join(", ")}, got ${o.method}` })
    }
    if (o.resume && o.out === undefined) return yield* new UsageError({ reason: "--resume needs --out <file>" })
    return {
      concurrency,
      perHost,
      timeout,
      retries,
      rate,
      maxBytes,
      headers,
      method: method as Method,
      grace,
      maxRedirects
    }
  })
