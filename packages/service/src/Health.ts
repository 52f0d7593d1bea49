/**
 * NOTE for other modules: `layer` is a Layer value (defaults); `layerWith(options)` takes options (brief said `layer(options?)`).
 *
 * Typed health checks for a service: named checks with a timeout and an optional cache, each feeding one or more
 * Kubernetes probes (liveness, readiness, startup), aggregated to `healthy` / `degraded` / `unhealthy` with the
 * latency and error of every component, and served as `/livez`, `/readyz`, `/startupz` and `/healthz`. It answers
 * the seed's `HealthChecker` (an aiohttp `/health` handler that gathers component checks under `asyncio.wait_for`)
 * and goes past it: a check that hangs is cut off and reported, a non-critical failure only degrades, a check is
 * removed when the scope that registered it closes, and an open circuit breaker reads as degraded.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "@async-ops/service"
 *
 * const program = Effect.gen(function*() {
 *   yield* Health.register({ name: "db", kinds: ["readiness"], run: Effect.void })
 *   yield* Health.register({ name: "cache", kinds: ["readiness"], run: Effect.fail("down"), critical: false })
 *   const report = yield* Health.report("readiness")
 *   return report.status // => "degraded"
 * }).pipe(Effect.scoped, Effect.provide(Health.layer))
 * ```
 *
 * @see https://kubernetes.io/docs/reference/using-api/health-checks/
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { MetricsOptions } from "@async-ops/core/Metrics"
import type * as HttpResilience from "@async-ops/http/HttpResilience"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as HttpRouter from "effect/http/HttpRouter"
import type * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/health.ts"

/**
 * The probe a check feeds: `liveness` (restart me if failing), `readiness` (send me traffic), `startup` (I have
 * finished starting; gates the other two in Kubernetes).
 *
 * @category models
 * @since 0.1.0
 */
export type Kind = "liveness" | "readiness" | "startup"

/**
 * A health status. `degraded` still answers 200 on the probes: the service works with reduced capacity.
 *
 * @category models
 * @since 0.1.0
 */
export type Status = "healthy" | "degraded" | "unhealthy"

/**
 * A health check.
 *
 * - `run` succeeding with nothing means healthy; it may also return a {@link Status}. A failure (or a defect)
 *   means unhealthy, or degraded when `critical: false` (a non-critical check never makes the service unhealthy,
 *   not even by returning `"unhealthy"`).
 * - `timeout`: the longest a run may take (> 0 and finite; default the layer's, 1 second). A check past it is
 *   interrupted and reported as failed with latency = timeout: never a hang.
 * - `cacheFor`: how long a result is reused (>= 0 and finite; default 0, no cache). Cached results say `cached: true`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Check<E = unknown, R = never> {
  readonly name: string
  readonly kinds: ReadonlyArray<Kind>
  readonly run: Effect.Effect<Status | void, E, R>
  readonly timeout?: Duration.Input | undefined
  readonly cacheFor?: Duration.Input | undefined
  readonly critical?: boolean | undefined
}

/**
 * One check's line in a {@link Report}: its status, how long it took (ms, on `Clock`), the error when it failed
 * (`Tag: message`, or `timed out after 1s`), and whether the result came from the cache.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckResult {
  readonly name: string
  readonly status: Status
  readonly latencyMs: number
  readonly error?: string
  readonly cached: boolean
  readonly critical: boolean
}

/**
 * A health report: the aggregated status (any unhealthy check makes it unhealthy, else any degraded one makes it
 * degraded, else healthy; no checks is healthy), the probe it was made for (`"all"` for every check), when
 * (`Clock` epoch ms), and one {@link CheckResult} per check in registration order. Plain data, JSON-ready.
 *
 * @category models
 * @since 0.1.0
 */
export interface Report {
  readonly status: Status
  readonly kind: Kind | "all"
  readonly checkedAt: number
  readonly checks: ReadonlyArray<CheckResult>
}

/**
 * Counters of a {@link Health} registry: checks registered (in all and per probe), whether the startup probe has
 * passed, and reports made.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly checks: number
  readonly liveness: number
  readonly readiness: number
  readonly startup: number
  readonly startupComplete: boolean
  readonly reports: number
}

/**
 * Gauge: the status of each check at its latest run: 0 healthy, 1 degraded, 2 unhealthy. Attributes `primitive`
 * (`"Health"`), `name` (the registry's) and `check` (the check's name); the series is removed when the check is.
 * Updated each time the check runs (not when a cached result is served). Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const statusGauge: Metric.Gauge<number> = internal.statusGauge

/**
 * Histogram: how long each check run took, in milliseconds (a timed-out run counts its timeout). Attributes
 * `primitive` (`"Health"`), `name` and `check`. Recorded with `metrics: true`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const latencyHistogram: Metric.Histogram<number> = internal.latencyHistogram

/**
 * Options of {@link layerWith}.
 *
 * **Gotchas**: with `metrics: true` each check is a series of {@link statusGauge} and {@link latencyHistogram}
 * (attribute `check`): register checks with fixed names, not one per request or per tenant.
 *
 * @category models
 * @since 0.1.0
 */
export interface LayerOptions extends MetricsOptions {
  /** The timeout of checks that set none (> 0 and finite). Default 1 second. */
  readonly timeout?: Duration.Input | undefined
  /** The registry's name: the `name` attribute of its metrics. Default `"health"`. */
  readonly name?: string | undefined
  /**
   * Report {@link statusGauge} and {@link latencyHistogram} for every check. Default `false`: nothing is
   * recorded, at no cost.
   */
  readonly metrics?: boolean | undefined
}

/**
 * The registry's operations (what `yield* Health` gives).
 *
 * @category models
 * @since 0.1.0
 */
export interface Health {
  readonly register: <E, R>(
    check: Check<E, R>
  ) => Effect.Effect<void, DuplicateCheckError | InvalidOptionError, Scope.Scope | R>
  readonly report: (kind?: Kind) => Effect.Effect<Report>
  readonly stats: Effect.Effect<Stats>
}

/**
 * A check with this name is already registered (names identify checks in reports).
 *
 * @category errors
 * @since 0.1.0
 */
export const DuplicateCheckError = internal.DuplicateCheckError
/**
 * @category errors
 * @since 0.1.0
 */
export type DuplicateCheckError = internal.DuplicateCheckError

/**
 * The health registry service. Provide it with {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "@async-ops/service"
 *
 * const status = Effect.flatMap(Health.Health, (h) => h.report()).pipe(Effect.provide(Health.layer))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Health: Context.Service<Health, Health> = internal.Health

/**
 * Registers a check for the lifetime of the current `Scope`: closing the scope removes it. The check runs with
 * the services of the fiber that registered it.
 *
 * **When to use**: where the component is built (a pool, a client, a consumer), in the same scope, so the check
 * lives exactly as long as what it checks.
 *
 * **Gotchas**: fails with {@link DuplicateCheckError} when the name is taken, and `InvalidOptionError` for an
 * empty name or kinds, a timeout that is not > 0 and finite, or a negative `cacheFor`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "@async-ops/service"
 *
 * const program = Health.register({
 *   name: "db",
 *   kinds: ["readiness", "startup"],
 *   run: Effect.void, // e.g. pool.query("SELECT 1")
 *   timeout: "500 millis",
 *   cacheFor: "2 seconds"
 * })
 * ```
 *
 * @category registration
 * @since 0.1.0
 */
export const register: <E, R>(
  check: Check<E, R>
) => Effect.Effect<void, DuplicateCheckError | InvalidOptionError, Health | Scope.Scope | R> = internal.register

/**
 * Runs the checks that feed `kind` (all checks when omitted) concurrently, each under its timeout and cache, and
 * aggregates them. Never fails.
 *
 * **Gotchas**: the startup probe latches: once every startup check has passed once (healthy or degraded), a
 * startup check is not run again (its last result is shown as cached) and the startup report stays healthy.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "@async-ops/service"
 *
 * const program = Effect.map(Health.report("readiness"), (r) => r.status).pipe(Effect.provide(Health.layer))
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export const report: (kind?: Kind) => Effect.Effect<Report, never, Health> = internal.report

/**
 * The registry's counters now.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "@async-ops/service"
 *
 * const program = Effect.map(Health.stats, (s) => s.checks).pipe(Effect.provide(Health.layer))
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export const stats: Effect.Effect<Stats, never, Health> = internal.stats

/**
 * Makes a registry without a layer (for a registry of your own, or tests).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "@async-ops/service"
 *
 * const program = Effect.flatMap(Health.make({ timeout: "2 seconds" }), (h) => h.report())
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: LayerOptions) => Effect.Effect<Health, InvalidOptionError> = internal.make

/**
 * The {@link Health} registry with default options (check timeout 1 second).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "@async-ops/service"
 *
 * const program = Health.report().pipe(Effect.provide(Health.layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Health> = internal.layer

/**
 * The {@link Health} registry with options; fails with `InvalidOptionError` on a bad option.
 *
 * @example
 * ```ts
 * import { Health } from "@async-ops/service"
 *
 * const Live = Health.layerWith({ timeout: "3 seconds" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerWith: (options: LayerOptions) => Layer.Layer<Health, InvalidOptionError> = internal.layerWith

/**
 * The HTTP status of a probe for a status: 200 for healthy and degraded, 503 for unhealthy.
 *
 * @example
 * ```ts
 * import { Health } from "@async-ops/service"
 *
 * Health.statusCode("degraded") // => 200
 * ```
 *
 * @category routes
 * @since 0.1.0
 */
export const statusCode: (status: Status) => number = internal.statusCode

/**
 * The probe routes, added to effect/http's `HttpRouter`: `GET /livez`, `/readyz`, `/startupz` answer with the
 * status code only (200 healthy or degraded, 503 unhealthy; empty body), `GET /healthz` with the full
 * {@link Report} of every check as JSON (200 or 503). Every response has `cache-control: no-store`.
 *
 * **When to use**: merge into the service's routes, or serve them on a separate admin port.
 *
 * **Gotchas**: probes run the checks on every request (respecting `cacheFor`); give expensive checks a cache.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { createServer } from "node:http"
 * import { Health } from "@async-ops/service"
 *
 * const Server = HttpRouter.serve(Health.routes).pipe(
 *   Layer.provide(Health.layer),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 }))
 * )
 * ```
 *
 * @category routes
 * @since 0.1.0
 */
export const routes: Layer.Layer<never, never, HttpRouter.HttpRouter | Health> = internal.routes

/**
 * Options of {@link fromCircuitBreaker}: the check's `name`, Effect's `breaker`, the `keys` to watch (any key not
 * closed, open or half-open, makes the check degraded), the probes it feeds (default `["readiness"]`), its
 * `timeout` and `critical` flag.
 *
 * @category models
 * @since 0.1.0
 */
export type BreakerCheckOptions = internal.BreakerCheckOptions

/**
 * A check that reads Effect's `CircuitBreaker` state: degraded while any of `keys` is open or half-open (the
 * dependency is being shed, the service still answers), healthy when all are closed; a breaker store error fails
 * the check.
 *
 * **When to use**: register it next to a breaker you hold, so dashboards and `/healthz` show the trip.
 *
 * **Gotchas**: for `HttpResilience`'s per-host breakers (internal to the client) use {@link fromResilientClient};
 * this works on a `CircuitBreaker` you make yourself.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect/persistence"
 * import { Health } from "@async-ops/service"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "10 seconds" })
 *   yield* Health.register(Health.fromCircuitBreaker({ name: "payments", breaker, keys: ["payments"] }))
 * })
 * ```
 *
 * @see `CircuitBreaker` in `effect/persistence`
 * @category constructors
 * @since 0.1.0
 */
export const fromCircuitBreaker: (options: BreakerCheckOptions) => Check<unknown> = internal.fromCircuitBreaker

/**
 * Options of {@link fromResilientClient}: the check's `name`, the `client` (default: `HttpResilience.ResilientClient`
 * from the context the check is registered in), the `hosts` to watch (the URL's `host`: `name`, or
 * `name:port` for a non-default port, as in the client's `stats.breakers`; default: every host), the probes it feeds (default `["readiness"]`), its `timeout`, `cacheFor`
 * and `critical` flag.
 *
 * @category models
 * @since 0.1.0
 */
export type ClientCheckOptions = internal.ClientCheckOptions

/**
 * A check that reads the per-host circuit breakers of an `HttpResilience` client (its `stats.breakers`): degraded
 * while any watched host's circuit is open or half-open (calls to it fail fast; the service still answers),
 * healthy otherwise, including when the client has no `circuitBreaker` configured.
 *
 * **When to use**: next to the shared outbound client of a service, so `/healthz` and dashboards show that a
 * dependency is being shed. Keep it out of liveness: a restart does not heal a remote host.
 *
 * **Gotchas**:
 * - Reading the state costs one store read per host that has seen a failure; the client's request path does no
 *   extra work for it.
 * - An open circuit stays "half-open" (degraded) after its open time until a call probes it: with no traffic to
 *   the host the check stays degraded.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 * import { Health } from "@async-ops/service"
 *
 * const program = Effect.gen(function*() {
 *   yield* Health.register(Health.fromResilientClient({ name: "upstream", hosts: ["api.example.com"] }))
 *   return yield* Health.report("readiness")
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(HttpResilience.layerUndici({ circuitBreaker: { failures: 5, openDuration: "30 seconds" } })),
 *   Effect.provide(Health.layer)
 * )
 * ```
 *
 * @see `HttpResilience.Stats` (`breakers`)
 * @category constructors
 * @since 0.1.0
 */
export const fromResilientClient: {
  (options: ClientCheckOptions & { readonly client: HttpResilience.ResilientClient }): Check<never>
  (options: ClientCheckOptions): Check<never, HttpResilience.ResilientClient>
} = internal.fromResilientClient as (options: ClientCheckOptions) => Check<never>
