/**
 * Health checks: registry, timed and cached runs, aggregation, startup latch, probe routes.
 *
 * @internal
 */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { Check, CheckResult, Health as HealthShape, Kind, LayerOptions, Report, Stats, Status } from "../Health.ts"

/** @internal */
export class DuplicateCheckError extends Data.TaggedError("DuplicateCheckError")<{
  readonly name: string
}> {
  override get message(): string {
    return `Health.register: a check named ${JSON.stringify(this.name)} is already registered`
  }
}

/** @internal */
/** @internal */
export type Health = HealthShape
/** @internal */
export const Health: Context.Service<Health, Health> = Context.Service<Health>("@async-ops/service/Health")

const KINDS: ReadonlyArray<Kind> = ["liveness", "readiness", "startup"]

/** @internal */
export const statusGauge: Metric.Gauge<number> = Metric.gauge("async_ops_health_check_status", {
  description: "Health check status at its latest run: 0 healthy, 1 degraded, 2 unhealthy"
})

/** @internal */
export const latencyHistogram: Metric.Histogram<number> = Metric.histogram("async_ops_health_check_latency_ms", {
  description: "Health check run latency, in milliseconds",
  boundaries: Metric.exponentialBoundaries({ start: 0.5, factor: 2, count: 20 })
})

const STATUS_VALUE: Readonly<Record<Status, number>> = { healthy: 0, degraded: 1, unhealthy: 2 }

/** The series of one check, in a registry made with `metrics: true`, bound to the constructor's context. */
class CheckInstruments {
  readonly context: Context.Context<never>
  readonly status: Metric.Gauge<number>
  readonly latency: Metric.Histogram<number>

  constructor(registry: string, check: string, context: Context.Context<never>) {
    const attributes = { primitive: "Health", name: registry, check }
    this.context = context
    this.status = Metric.withAttributes(statusGauge, attributes)
    this.latency = Metric.withAttributes(latencyHistogram, attributes)
  }
  record(status: Status, latencyMs: number): void {
    this.status.updateUnsafe(STATUS_VALUE[status], this.context)
    this.latency.updateUnsafe(latencyMs, this.context)
  }
  remove(): void {
    Metric.removeUnsafe(this.status, this.context)
    Metric.removeUnsafe(this.latency, this.context)
  }
}

interface Entry {
  readonly name: string
  readonly kinds: ReadonlySet<Kind>
  readonly run: Effect.Effect<Status | void, unknown>
  readonly timeout: Duration.Duration
  readonly cacheForMs: number
  readonly critical: boolean
  last: { readonly result: CheckResult; readonly at: number } | undefined
  /** Set once the check, fed to the startup probe, was healthy or degraded once. */
  startupPassed: boolean
  readonly metrics: CheckInstruments | undefined
}

/**
 * A duration option (`fallback` when absent), lifted from `InvalidOption.duration`: `> 0` unless `allowZero`,
 * finite unless `allowInfinity`.
 *
 * @internal
 */
export const durationOption = (
  module: string,
  option: string,
  value: Duration.Input | undefined,
  fallback: Duration.Duration,
  rule: { readonly allowZero: boolean; readonly allowInfinity: boolean }
): Effect.Effect<Duration.Duration, InvalidOptionError> =>
  value === undefined ? Effect.succeed(fallback) : Effect.fromResult(
    InvalidOption.duration(module, option, value, { exclusive: !rule.allowZero, finite: !rule.allowInfinity })
  )

/** @internal */
export const isNonEmptyString = (u: unknown): u is string => typeof u === "string" && u !== ""

/** Describes a failure for a report: `Tag: message`, the message, or the value. @internal */
export const describeError = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
    const message = "message" in error && typeof error.message === "string" && error.message !== ""
      ? error.message
      : undefined
    if (tag !== undefined && message !== undefined) return `${tag}: ${message}`
    if (message !== undefined) return message
    if (tag !== undefined) return tag
  }
  return String(error)
}

/** @internal */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const fail = cause.reasons.find(Cause.isFailReason)
  if (fail !== undefined) return describeError(fail.error)
  const die = cause.reasons.find(Cause.isDieReason)
  if (die !== undefined) return `defect: ${describeError(die.defect)}`
  return "interrupted"
}

const worst = (statuses: Iterable<Status>): Status => {
  let out: Status = "healthy"
  for (const s of statuses) {
    if (s === "unhealthy") return "unhealthy"
    if (s === "degraded") out = "degraded"
  }
  return out
}

type Outcome = { readonly _tag: "Done"; readonly status: Status | void } | { readonly _tag: "TimedOut" }
const timedOut: Outcome = { _tag: "TimedOut" }

const runEntry = (entry: Entry): Effect.Effect<CheckResult> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const last = entry.last
    if (last !== undefined && start - last.at < entry.cacheForMs) return { ...last.result, cached: true }
    const exit = yield* entry.run.pipe(
      Effect.map((status): Outcome => ({ _tag: "Done", status })),
      Effect.timeoutOrElse({ duration: entry.timeout, orElse: () => Effect.succeed(timedOut) }),
      Effect.exit
    )
    const end = yield* Clock.currentTimeMillis
    const failed: Status = entry.critical ? "unhealthy" : "degraded"
    let status: Status
    let error: string | undefined
    if (Exit.isFailure(exit)) {
      status = failed
      error = describeCause(exit.cause)
    } else if (exit.value._tag === "TimedOut") {
      status = failed
      error = `timed out after ${Duration.format(entry.timeout)}`
    } else {
      // Anything but a status (void, or a value a `void` check happened to return) means healthy.
      const value: unknown = exit.value.status
      const s: Status = value === "degraded" || value === "unhealthy" ? value : "healthy"
      status = s === "unhealthy" && !entry.critical ? "degraded" : s
    }
    const result: CheckResult = error === undefined
      ? { name: entry.name, status, latencyMs: end - start, cached: false, critical: entry.critical }
      : { name: entry.name, status, latencyMs: end - start, error, cached: false, critical: entry.critical }
    entry.last = { result, at: end }
    if (entry.metrics !== undefined) entry.metrics.record(status, end - start)
    if (entry.kinds.has("startup") && status !== "unhealthy") entry.startupPassed = true
    return result
  })

/** @internal */
export const make = (options?: LayerOptions): Effect.Effect<HealthShape, InvalidOptionError> =>
  Effect.gen(function*() {
    const defaultTimeout = yield* durationOption("Health.layer", "timeout", options?.timeout, Duration.seconds(1), {
      allowZero: false,
      allowInfinity: false
    })
    const registryName = yield* Effect.fromResult(
      InvalidOption.check("Health.layer", "name", options?.name ?? "health", isNonEmptyString, "a non-empty string")
    )
    const metricsContext = options?.metrics === true ? yield* Effect.context<never>() : undefined
    const entries = new Map<string, Entry>()
    let reports = 0
    let startupComplete = false

    const register = <E, R>(
      check: Check<E, R>
    ): Effect.Effect<void, DuplicateCheckError | InvalidOptionError, Scope.Scope | R> =>
      Effect.gen(function*() {
        const module = "Health.register"
        yield* Effect.fromResult(Result.all([
          InvalidOption.check(module, "name", check.name, isNonEmptyString, "a non-empty string"),
          InvalidOption.check(
            module,
            "kinds",
            check.kinds,
            (kinds) => Array.isArray(kinds) && kinds.length > 0 && kinds.every((k) => KINDS.includes(k)),
            "a non-empty array of \"liveness\", \"readiness\", \"startup\""
          )
        ]))
        const timeout = yield* durationOption(module, "timeout", check.timeout, defaultTimeout, {
          allowZero: false,
          allowInfinity: false
        })
        const cacheFor = yield* durationOption(module, "cacheFor", check.cacheFor, Duration.zero, {
          allowZero: true,
          allowInfinity: false
        })
        yield* Effect.fromResult(
          InvalidOption.check(
            module,
            "critical",
            check.critical,
            (u) => u === undefined || typeof u === "boolean",
            "a boolean"
          )
        )
        if (entries.has(check.name)) return yield* new DuplicateCheckError({ name: check.name })
        const context = yield* Effect.context<R>()
        const entry: Entry = {
          name: check.name,
          kinds: new Set(check.kinds),
          run: Effect.provideContext(check.run, context),
          timeout,
          cacheForMs: Duration.toMillis(cacheFor),
          critical: check.critical ?? true,
          last: undefined,
          startupPassed: false,
          metrics: metricsContext === undefined
            ? undefined
            : new CheckInstruments(registryName, check.name, metricsContext)
        }
        entries.set(check.name, entry)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (entries.get(entry.name) !== entry) return
            entries.delete(entry.name)
            if (entry.metrics !== undefined) entry.metrics.remove()
          })
        )
      })

    const report = (kind?: Kind): Effect.Effect<Report> =>
      Effect.gen(function*() {
        reports++
        const selected = Array.from(entries.values()).filter((e) => kind === undefined || e.kinds.has(kind))
        const checks = yield* Effect.forEach(
          selected,
          (entry) =>
            kind === "startup" && entry.startupPassed && entry.last !== undefined
              ? Effect.succeed({ ...entry.last.result, cached: true })
              : runEntry(entry),
          { concurrency: "unbounded" }
        )
        const checkedAt = yield* Clock.currentTimeMillis
        let status = worst(checks.map((c) => c.status))
        if (kind === "startup") {
          const done = startupComplete || selected.every((e) => e.startupPassed)
          if (done) startupComplete = true
          if (startupComplete) status = "healthy"
        }
        return { status, kind: kind ?? "all", checkedAt, checks }
      })

    const stats = Effect.sync((): Stats => {
      const count = (k: Kind) => Array.from(entries.values()).filter((e) => e.kinds.has(k)).length
      return {
        checks: entries.size,
        liveness: count("liveness"),
        readiness: count("readiness"),
        startup: count("startup"),
        startupComplete,
        reports
      }
    })

    return Health.of({ register, report, stats })
  })

/** @internal */
export const layerWith = (options: LayerOptions): Layer.Layer<Health, InvalidOptionError> =>
  Layer.effect(Health, make(options))

/** @internal */
export const layer: Layer.Layer<Health> = Layer.effect(Health, Effect.orDie(make()))

/** @internal */
export const register = <E, R>(
  check: Check<E, R>
): Effect.Effect<void, DuplicateCheckError | InvalidOptionError, Health | Scope.Scope | R> =>
  Effect.flatMap(Health, (h) => h.register(check))

/** @internal */
export const report = (kind?: Kind): Effect.Effect<Report, never, Health> =>
  Effect.flatMap(Health, (h) => h.report(kind))

/** @internal */
export const stats: Effect.Effect<Stats, never, Health> = Effect.flatMap(Health, (h) => h.stats)

/** @internal */
export const statusCode = (status: Status): number => status === "unhealthy" ? 503 : 200

const probe = (health: HealthShape, kind: Kind) =>
  Effect.map(
    health.report(kind),
    (r) => HttpServerResponse.empty({ status: statusCode(r.status), headers: { "cache-control": "no-store" } })
  )

/** @internal */
export const routes: Layer.Layer<never, never, HttpRouter.HttpRouter | Health> = Layer.unwrap(
  Effect.map(Health, (health) =>
    Layer.mergeAll(
      HttpRouter.add("GET", "/livez", probe(health, "liveness")),
      HttpRouter.add("GET", "/readyz", probe(health, "readiness")),
      HttpRouter.add("GET", "/startupz", probe(health, "startup")),
      HttpRouter.add(
        "GET",
        "/healthz",
        Effect.map(health.report(), (r) =>
          HttpServerResponse.jsonUnsafe(r, {
            status: statusCode(r.status),
            headers: { "cache-control": "no-store" }
          }))
      )
    ))
)

/** @internal */
export interface BreakerCheckOptions {
  readonly name: string
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly keys: ReadonlyArray<string>
  readonly kinds?: ReadonlyArray<Kind> | undefined
  readonly timeout?: Duration.Input | undefined
  readonly critical?: boolean | undefined
}

/** @internal */
export const fromCircuitBreaker = (options: BreakerCheckOptions): Check<CircuitBreaker.CircuitBreakerError> => ({
  name: options.name,
  kinds: options.kinds ?? ["readiness"],
  ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  ...(options.critical === undefined ? {} : { critical: options.critical }),
  run: Effect.map(
    Effect.forEach(options.keys, (key) => options.breaker.state(key)),
    (states): Status => states.some((s) => s._tag !== "Closed") ? "degraded" : "healthy"
  )
})

/** @internal */
export interface ClientCheckOptions {
  readonly name: string
  readonly client?: HttpResilience.ResilientClient | undefined
  readonly hosts?: ReadonlyArray<string> | undefined
  readonly kinds?: ReadonlyArray<Kind> | undefined
  readonly timeout?: Duration.Input | undefined
  readonly cacheFor?: Duration.Input | undefined
  readonly critical?: boolean | undefined
}

/** @internal */
export const fromResilientClient = (
  options: ClientCheckOptions
): Check<never, HttpResilience.ResilientClient> => {
  const hosts = options.hosts === undefined ? undefined : new Set(options.hosts)
  const client: Effect.Effect<HttpResilience.ResilientClient, never, HttpResilience.ResilientClient> =
    options.client === undefined ? HttpResilience.ResilientClient : Effect.succeed(options.client)
  return {
    name: options.name,
    kinds: options.kinds ?? ["readiness"],
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.cacheFor === undefined ? {} : { cacheFor: options.cacheFor }),
    ...(options.critical === undefined ? {} : { critical: options.critical }),
    run: Effect.map(Effect.flatMap(client, (c) => c.stats), ({ breakers }): Status => {
      for (const host in breakers) {
        if (breakers[host] !== "closed" && (hosts === undefined || hosts.has(host))) return "degraded"
      }
      return "healthy"
    })
  }
}
