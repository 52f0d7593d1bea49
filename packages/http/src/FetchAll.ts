/**
 * Fetch many URLs at once and get every outcome back, typed: the seed's `fetch_all(urls)` /
 * `fetch_with_limit(urls, limit)` (an `asyncio.Semaphore` plus `asyncio.gather(..., return_exceptions=True)` over an
 * aiohttp session) as one function. Every request goes through the {@link HttpResilience} client in context, so the
 * batch inherits its connection caps per host, timeouts, retries and breaker; on top of that the batch has its own
 * `concurrency`, an optional `maxFailures` stop and a `timeout` budget (core's `Gather`).
 *
 * Progress: pass a `SubscriptionRef` of {@link Progress} as `progress` and read it (`SubscriptionRef.get`) or follow
 * it (`SubscriptionRef.changes`) while the batch runs; it is updated as each item starts and ends.
 *
 * @see https://docs.python.org/3/library/asyncio-task.html#asyncio.gather
 * @since 0.1.0
 */
import type { Gather } from "@async-ops/core"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Effect from "effect/Effect"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as HttpResilience from "./HttpResilience.ts"
import type * as HttpResilienceError from "./HttpResilienceError.ts"
import * as internal from "./internal/fetchAll.ts"

/**
 * One input: a URL string (fetched with GET; a malformed one becomes that item's `MalformedUrlError`), a `URL`, or
 * any `HttpClientRequest` (method, headers, body).
 *
 * @category models
 * @since 0.1.0
 */
export type Input = string | URL | HttpClientRequest.HttpClientRequest

/**
 * The batch's progress: `total` inputs, `inFlight` requests now, `done` (ended, whatever the outcome) of which
 * `succeeded` and `failed` (a typed `HttpError`, a defect or an interruption by a batch stop).
 *
 * @category models
 * @since 0.1.0
 */
export interface Progress {
  readonly total: number
  readonly inFlight: number
  readonly done: number
  readonly succeeded: number
  readonly failed: number
}

/**
 * Options of {@link fetchAll} and {@link stream}; invalid values fail with `InvalidOptionError` before anything runs.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Requests in flight at once (an integer >= 1 or `"unbounded"`). Default 100. The client's caps still apply. */
  readonly concurrency?: number | "unbounded" | undefined
  /** Stop after this many failed items (the rest become `Interrupted` / `NotRun`). Default: no limit. */
  readonly maxFailures?: number | undefined
  /** A budget for the whole batch (unfinished items become `TimedOut`). Default: none. */
  readonly timeout?: Gather.Options["timeout"]
  /** Where to publish {@link Progress} while the batch runs (make it with {@link makeProgress}). Default: none. */
  readonly progress?: SubscriptionRef.SubscriptionRef<Progress> | undefined
}

/**
 * Fetches every input and returns one `Gather.Outcome` per input, in input order: `Success` with the
 * `HttpResilience.Response`, `Failure` with its typed `HttpError` (`MalformedUrlError` for a malformed URL,
 * `StatusError`, `ConnectError`, ...), or `Interrupted`/`NotRun`/`TimedOut` after a batch stop.
 *
 * **When to use**: bulk fetching where one bad URL or dead host must not cancel the rest.
 *
 * **Gotchas**: it needs `HttpResilience.ResilientClient` in context (e.g. `HttpResilience.layerUndici()`); the
 * batch never fails with an item's error, only with `InvalidOptionError`. Bodies are held in memory (each at most
 * the client's `maxResponseBytes`): for very large batches use {@link stream} and drop what you have written out.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FetchAll, HttpResilience } from "@async-ops/http"
 *
 * const program = Effect.gen(function*() {
 *   const settled = yield* FetchAll.fetchAll(["http://127.0.0.1:8080/a", "not a url"], { concurrency: 10 })
 *   return settled.counts // => { total: 2, success: 1, failure: 1, ... }
 * }).pipe(Effect.provide(HttpResilience.layerUndici({ maxConnectionsPerHost: 4 })))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const fetchAll: (
  inputs: Iterable<Input>,
  options?: Options
) => Effect.Effect<
  Gather.Settled<Input, HttpResilience.Response, HttpResilienceError.HttpError>,
  InvalidOptionError,
  HttpResilience.ResilientClient
> = internal.fetchAll

/**
 * Like {@link fetchAll}, but streams one outcome per input in completion order (`asyncio.as_completed`), each with
 * its `index` and `input`.
 *
 * **When to use**: to write results out as they arrive (JSON Lines, a database) with memory bounded by what is in
 * flight.
 *
 * **Gotchas**: outcomes are buffered (one per input) when the consumer is slower than the requests; ending the
 * stream early interrupts the requests still running.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { FetchAll, HttpResilience } from "@async-ops/http"
 *
 * const program = FetchAll.stream(["http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b"]).pipe(
 *   Stream.runForEach((o) => Effect.log(o.index, o._tag)),
 *   Effect.provide(HttpResilience.layerUndici())
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const stream: (
  inputs: Iterable<Input>,
  options?: Options
) => Stream.Stream<
  Gather.Outcome<Input, HttpResilience.Response, HttpResilienceError.HttpError>,
  InvalidOptionError,
  HttpResilience.ResilientClient
> = internal.stream

/**
 * Makes a `SubscriptionRef` to pass as `progress`, starting at zero.
 *
 * @example
 * ```ts
 * import { Effect, SubscriptionRef } from "effect"
 * import { FetchAll } from "@async-ops/http"
 *
 * const program = Effect.gen(function*() {
 *   const progress = yield* FetchAll.makeProgress
 *   const fiber = yield* Effect.forkChild(FetchAll.fetchAll(["http://127.0.0.1:8080/"], { progress }))
 *   const now = yield* SubscriptionRef.get(progress) // { total: 1, inFlight: ..., done: ... }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeProgress: Effect.Effect<SubscriptionRef.SubscriptionRef<Progress>> = Effect.suspend(() =>
  SubscriptionRef.make<Progress>(internal.emptyProgress)
)
