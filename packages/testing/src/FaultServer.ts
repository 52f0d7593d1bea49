/**
 * A real HTTP server for tests whose routes script faults: latency (fixed or drawn from a distribution), a weighted
 * mix of status codes, 429/503 with `Retry-After` (seconds or HTTP-date), connection resets, requests that hang,
 * bodies that trickle in slowly, large streamed bodies, an echo of the request and a sink that counts and hashes an
 * uploaded body (and its multipart parts). Decisions come from a seeded PRNG
 * per route (or from a scripted sequence), so a run is repeatable; every request is recorded with the host it
 * arrived on, and the server counts requests, outcomes and the peak concurrency per host.
 *
 * It listens with `node:http` through Effect's `NodeHttpServer` on loopback only (`127.0.0.1`, `127.0.0.2`, …: on
 * Linux all of `127.0.0.0/8` reaches the loopback interface), so several addresses act as several hosts. It is what
 * Python tests get from aiohttp's `TestServer` plus a fault proxy such as toxiproxy, in one scoped value.
 *
 * @see `NodeHttpServer` (`@effect/platform-node`) and `HttpServer` (`effect/http`), which it serves through
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/faultServer.ts"

// ---------------------------------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------------------------------

/**
 * How long the server waits before acting on a request: a fixed duration (millis, a `Duration` or e.g.
 * `"50 millis"`) or a distribution sampled per request from the route's seeded PRNG.
 *
 * - `{ kind: "uniform", min, max }`: uniform in [min, max].
 * - `{ kind: "normal", mean, stddev, max? }`: normal, clamped to [0, max].
 * - `{ kind: "lognormal", median, sigma, max? }`: `median * exp(sigma * N(0, 1))`, the long tail real services
 *   show, clamped to `max` (default: no cap).
 * - `{ kind: "weighted", choices: [[latency, weight], …] }`: one of the listed latencies, by weight.
 *
 * Latency is real time: the server runs on real sockets, so it always uses the live clock, also when made inside
 * `it.effect` (where `TestClock` would otherwise never let it pass).
 *
 * @category models
 * @since 0.1.0
 */
export type Latency =
  | Duration.Input
  | { readonly kind: "uniform"; readonly min: Duration.Input; readonly max: Duration.Input }
  | {
    readonly kind: "normal"
    readonly mean: Duration.Input
    readonly stddev: Duration.Input
    readonly max?: Duration.Input | undefined
  }
  | {
    readonly kind: "lognormal"
    readonly median: Duration.Input
    /** The standard deviation of the underlying normal, e.g. 0.5; 0 gives `median` every time. */
    readonly sigma: number
    readonly max?: Duration.Input | undefined
  }
  | {
    readonly kind: "weighted"
    readonly choices: ReadonlyArray<readonly [latency: Duration.Input, weight: number]>
  }

/**
 * A plain response: `status` (default 200, 200-599), `body` (default the status text, e.g. `"Service
 * Unavailable"`), extra `headers`, and `retryAfter` in whole seconds, sent as `Retry-After: 2` or, with
 * `retryAfterFormat: "http-date"`, as the HTTP-date that many seconds from now (rounded up to the next second, so a
 * client that waits until that date waits at least `retryAfter` seconds).
 *
 * @category models
 * @since 0.1.0
 */
export interface Respond {
  readonly kind?: "respond" | undefined
  readonly status?: number | undefined
  readonly body?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly retryAfter?: number | undefined
  readonly retryAfterFormat?: "seconds" | "http-date" | undefined
  /** Overrides the route's latency for this reply. */
  readonly latency?: Latency | undefined
}

/**
 * Answers with the request as JSON: `{ method, url, path, query, headers, body, host }` (`body` as UTF-8 text).
 *
 * @category models
 * @since 0.1.0
 */
export interface Echo {
  readonly kind: "echo"
  readonly status?: number | undefined
  readonly latency?: Latency | undefined
}

/**
 * Resets the connection without a response: the socket is destroyed with a TCP RST, so the client sees
 * `ECONNRESET` (or its HTTP library's "socket closed" error). With `afterBytes`, the server first sends the status
 * line, a `content-length` larger than what follows and `afterBytes` bytes of body, then closes the socket: a
 * download cut off half-way.
 *
 * @category models
 * @since 0.1.0
 */
export interface Reset {
  readonly kind: "reset"
  readonly afterBytes?: number | undefined
  readonly latency?: Latency | undefined
}

/**
 * Never answers: the request stays open until the client gives up or the server stops (which closes it). With
 * `afterHeaders: true` the status line and headers are sent first and the body never comes, to test body-read
 * timeouts.
 *
 * @category models
 * @since 0.1.0
 */
export interface Hang {
  readonly kind: "hang"
  readonly afterHeaders?: boolean | undefined
  /** The status sent with `afterHeaders`. Default 200. */
  readonly status?: number | undefined
  readonly latency?: Latency | undefined
}

/**
 * A slow body: `chunks` chunks of `chunkBytes` bytes (default 8), the first at once and each next one `delay`
 * later. Chunk `i` is the digit `i % 10` repeated, so a client can check the order. `content-length` is set.
 *
 * @category models
 * @since 0.1.0
 */
export interface Trickle {
  readonly kind: "trickle"
  readonly chunks: number
  readonly delay: Duration.Input
  readonly chunkBytes?: number | undefined
  readonly status?: number | undefined
  readonly latency?: Latency | undefined
}

/**
 * A large body of `bytes` bytes (a repeating ASCII pattern), generated and streamed in chunks of `chunkBytes`
 * (default 64 KiB) with backpressure: the server holds one chunk, not the body. `content-length` is set, unless
 * `chunked: true` (then the body goes with chunked transfer encoding and its size is unknown up front). Byte `i` of
 * the body is `"0123456789abcdefghijklmnopqrstuvwxyz\n"[(i % chunkBytes) % 37]`.
 *
 * @category models
 * @since 0.1.0
 */
export interface LargeBody {
  readonly kind: "large"
  readonly bytes: number
  readonly chunkBytes?: number | undefined
  readonly chunked?: boolean | undefined
  readonly status?: number | undefined
  readonly latency?: Latency | undefined
}

/**
 * Reads the request body as it streams in (holding one chunk, not the body) and answers with what arrived, as JSON:
 * `{ method, path, headers, bytes, sha256, parts }`. `bytes` and `sha256` (hex) cover the raw body. For a
 * `multipart/form-data` body `parts` lists each part in order as `{ name, filename, contentType, bytes, sha256,
 * value }` (`filename` is `null` for a field, `value` is the text of a field and `null` for a file); otherwise
 * `parts` is `null`. A malformed multipart body gets a 400 with the parser's message.
 *
 * @category models
 * @since 0.1.0
 */
export interface Sink {
  readonly kind: "sink"
  readonly status?: number | undefined
  readonly latency?: Latency | undefined
}

/**
 * The JSON body a {@link Sink} route answers with.
 *
 * @category models
 * @since 0.1.0
 */
export interface SinkReport {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly bytes: number
  readonly sha256: string
  readonly parts: ReadonlyArray<SinkPart> | null
}

/**
 * One part of a multipart body a {@link Sink} route received.
 *
 * @category models
 * @since 0.1.0
 */
export interface SinkPart {
  readonly name: string
  readonly filename: string | null
  readonly contentType: string
  readonly bytes: number
  readonly sha256: string
  readonly value: string | null
}

/**
 * What a route does with a request. Shorthands: a number is a `Respond` with that status; `"echo"`, `"reset"`,
 * `"hang"` and `"sink"` are those replies with their defaults.
 *
 * @category models
 * @since 0.1.0
 */
export type Reply =
  | number
  | "echo"
  | "reset"
  | "hang"
  | "sink"
  | Respond
  | Echo
  | Reset
  | Hang
  | Trickle
  | LargeBody
  | Sink

/**
 * The script of one route. At most one of `reply` (always the same; default 200), `mix` (a weighted random choice
 * per request, from the route's seeded PRNG) and `sequence` (the replies in order, one per request, then again from
 * the start, or the last one forever with `sequenceEnd: "repeat-last"`). `latency` applies to every reply that does
 * not set its own.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteScript {
  readonly latency?: Latency | undefined
  readonly reply?: Reply | undefined
  readonly mix?: ReadonlyArray<readonly [reply: Reply, weight: number]> | undefined
  readonly sequence?: ReadonlyArray<Reply> | undefined
  /** What `sequence` does after its last reply. Default `"cycle"`. */
  readonly sequenceEnd?: "cycle" | "repeat-last" | undefined
  /**
   * The most requests of this route served at once, like a server with that many workers: an integer >= 1. The
   * others wait in arrival order, and a request's latency (its service time) starts when it gets a slot, so past
   * this many concurrent requests, latency grows and throughput does not. Default: no limit.
   */
  readonly concurrency?: number | undefined
}

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * The addresses to listen on, one host each: a count `n` (1-254) for `127.0.0.1` … `127.0.0.n`, or a list of
   * distinct IPv4 loopback addresses (`127.x.y.z`). Default 1.
   */
  readonly hosts?: number | ReadonlyArray<string> | undefined
  /**
   * The port every address listens on (0-65535). Default 0: the first address gets a free port and the others use
   * the same one, so hosts differ by address only (as real hosts do).
   */
  readonly port?: number | undefined
  /** Seeds every route's PRNG (a finite number; its integer part, 32 bits, is used). Default 1. */
  readonly seed?: number | undefined
  /**
   * Route scripts by path. A key is an exact path (`"/users"`) or a prefix (`"/users/*"`, which matches `/users`
   * and everything under `/users/`; `"/*"` matches every path). An exact match wins, then the longest prefix.
   * Any method matches; the query string is ignored.
   */
  readonly routes?: Readonly<Record<string, RouteScript>> | undefined
  /** The script for a path no route matches. Default: 404 `Not Found`. */
  readonly defaultRoute?: RouteScript | undefined
  /**
   * When the scope closes, how long in-flight requests may run before every remaining connection is destroyed
   * (hanging requests never finish, so they wait all of it). Default 0: stop at once.
   */
  readonly shutdownGrace?: Duration.Input | undefined
  /**
   * How many requests `requests` keeps (the most recent ones; counters always count everything). Default: all of
   * them. Set it for long runs (a benchmark, a server left up) so memory stays bounded.
   */
  readonly maxRecorded?: number | undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Records and stats
// ---------------------------------------------------------------------------------------------------------------

/**
 * One request the server received.
 *
 * `outcome` is the label of what it was given: the status code for plain responses and 404s (`"200"`, `"503"`),
 * otherwise the reply kind (`"echo"`, `"reset"`, `"hang"`, `"trickle"`, `"large"`, `"sink"`). `state` says how it ended so far:
 * `"in-flight"`, `"completed"` (the whole response was handed to the socket) or `"aborted"` (the connection closed
 * first: a reset, a hang, a client that gave up, a server stop).
 *
 * @category models
 * @since 0.1.0
 */
export interface Recorded {
  /** Arrival order, from 0, across hosts (restarts at `reset`). */
  readonly index: number
  readonly method: string
  /** Path and query as the client sent them. */
  readonly url: string
  readonly path: string
  /** Query parameters (the last value of a repeated name). */
  readonly query: Readonly<Record<string, string>>
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  /** Arrival time, milliseconds since the epoch (live clock). */
  readonly arrivedAt: number
  /** When the response ended (completed or aborted), or `undefined` while in flight. */
  readonly endedAt: number | undefined
  /** The host it arrived on, as `address:port` (the key of `stats.byHost`). */
  readonly host: string
  /** The index of that host in `urls`. */
  readonly hostIndex: number
  /** The TCP connection it came on: a number per host, from 1, in accept order (shows keep-alive reuse). */
  readonly connection: number
  /** The route key that matched, `"(default)"` for the default route, `"(none)"` for a 404. */
  readonly route: string
  /** The scripted latency, milliseconds. */
  readonly latency: number
  readonly outcome: string
  /** The status sent, or `undefined` when no status line was sent (reset, hang). */
  readonly status: number | undefined
  /** The `Retry-After` value sent, if any. */
  readonly retryAfter: string | undefined
  readonly state: "in-flight" | "completed" | "aborted"
}

/**
 * The counters of one host. `count`, `connections` and `peakConcurrency` count since start (or the last `reset`);
 * `inFlight` and `openConnections` are the numbers now.
 *
 * @category models
 * @since 0.1.0
 */
export interface HostStats {
  readonly count: number
  readonly inFlight: number
  readonly peakConcurrency: number
  /** TCP connections accepted. */
  readonly connections: number
  readonly openConnections: number
}

/**
 * A snapshot of the server's counters. `byHost` has every host, idle ones included (count 0); `byOutcome` is keyed by
 * the labels of {@link Recorded}`.outcome`; `byRoute` by route key.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly total: number
  readonly inFlight: number
  readonly peakConcurrency: number
  readonly byHost: Readonly<Record<string, HostStats>>
  readonly byOutcome: Readonly<Record<string, number>>
  readonly byRoute: Readonly<Record<string, number>>
}

/**
 * A running fault server.
 *
 * @category models
 * @since 0.1.0
 */
export interface FaultServer {
  /** One base URL per host, e.g. `http://127.0.0.2:43210`, in the order of `hosts`. */
  readonly urls: ReadonlyArray<string>
  /** One `address:port` per host: the keys of `stats.byHost`. */
  readonly hosts: ReadonlyArray<string>
  /** The port every host listens on. */
  readonly port: number
  /** The URL of `path` on host `hostIndex` (default 0). */
  readonly url: (path: string, hostIndex?: number) => string
  /** Every request since start (or the last `reset`), in arrival order. */
  readonly requests: Effect.Effect<ReadonlyArray<Recorded>>
  readonly stats: Effect.Effect<Stats>
  /**
   * Forgets the recorded requests, zeroes the counters (peaks restart from the current in-flight counts) and rewinds
   * every route: sequences start over and the PRNGs restart from the seed. Requests in flight are not touched.
   */
  readonly reset: Effect.Effect<void>
  /** Waits until at least `n` requests have arrived (since start or the last `reset`). */
  readonly awaitRequests: (n: number) => Effect.Effect<void>
  /** Waits until no request is in flight. */
  readonly awaitIdle: Effect.Effect<void>
}

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * The server could not listen on one of its addresses (the port is taken, the address is not available here).
 *
 * @category errors
 * @since 0.1.0
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly address: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `FaultServer: cannot listen on ${this.address}:${this.port}: ${reason}`
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------------------------

/**
 * Starts a fault server that lives as long as the current `Scope`. When the scope closes, the server stops
 * accepting, gives in-flight requests `shutdownGrace` (default none), destroys every remaining connection (hanging
 * requests included) and waits until all its sockets are closed.
 *
 * **When to use**: tests of HTTP clients, retries, timeouts, limits and circuit breakers against real sockets; the
 * demo and benchmarks. Use `it.live` (real sockets, real time).
 *
 * **Gotchas**: the same seed gives the same decisions per route in the order requests reach that route; with
 * concurrent clients the arrival order (and so who gets which decision) depends on the network, while the counts
 * and the sequence of decisions do not. For an exact order per request use `sequence`. Latencies are real time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaultServer } from "@async-ops/testing"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* FaultServer.make({
 *     hosts: 2,
 *     routes: {
 *       "/flaky": { sequence: [{ status: 503, retryAfter: 1 }, 200] },
 *       "/slow": { latency: { kind: "uniform", min: 50, max: 150 } },
 *       "/reset": { reply: "reset" }
 *     }
 *   })
 *   const first = yield* Effect.promise(() => fetch(server.url("/flaky")))
 *   const second = yield* Effect.promise(() => fetch(server.url("/flaky", 1)))
 *   const stats = yield* server.stats
 *   return [first.status, first.headers.get("retry-after"), second.status, stats.byOutcome]
 *   // => [503, "1", 200, { "503": 1, "200": 1 }]
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (
  options?: Options
) => Effect.Effect<FaultServer, InvalidOptionError | ListenError, Scope.Scope> = internal.make

/**
 * The service key under which {@link layer} provides a running fault server (its shape is the interface of the
 * same name, as with Effect's `HttpClient.HttpClient`).
 *
 * @category services
 * @since 0.1.0
 */
export const FaultServer: Context.Service<FaultServer, FaultServer> = Context.Service<FaultServer>(
  "@async-ops/testing/FaultServer"
)

/**
 * A layer that runs a fault server for the layer's lifetime and provides it as {@link FaultServer}.
 *
 * **When to use**: a suite that shares one server (`it.layer(FaultServer.layer({...}))`); call `reset` between
 * tests when they count requests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaultServer } from "@async-ops/testing"
 *
 * const Server = FaultServer.layer({ routes: { "/ok": {} } })
 * const program = Effect.gen(function*() {
 *   const server = yield* FaultServer.FaultServer
 *   return server.url("/ok")
 * }).pipe(Effect.provide(Server))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<FaultServer, InvalidOptionError | ListenError> =>
  Layer.effect(FaultServer, internal.make(options))
