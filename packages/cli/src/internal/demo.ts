/**
 * `async-ops demo`: a FaultServer on several loopback addresses, a few thousand URLs through the metered resilient
 * client with `FetchAll.stream`, a progress display, and a summary computed from what was measured.
 *
 * @internal
 */
import type * as Gather from "@async-ops/core/Gather"
import * as Metrics from "@async-ops/core/Metrics"
import * as FetchAll from "@async-ops/http/FetchAll"
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as HttpResilienceError from "@async-ops/http/HttpResilienceError"
import * as FaultServer from "@async-ops/testing/FaultServer"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { checkInt, fromResult, parseDuration } from "./fetch/options.ts"
import * as Meter from "./meter.ts"
import * as Progress from "./progress.ts"
import * as Report from "./report.ts"
import { exitCodeOf, gracefulStop } from "./signals.ts"
import { StoppedError, UsageError } from "./usage.ts"

// ---------------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface Percentiles {
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly max: number
}

/**
 * Nearest-rank percentiles (the smallest value with at least p % of the values at or below it); zeros for no
 * values.
 *
 * @internal
 */
export const percentiles = (values: ReadonlyArray<number>): Percentiles => {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 }
  const sorted = values.toSorted((a, b) => a - b)
  const rank = (p: number) => Metrics.percentile(sorted, p)!
  return { p50: rank(50), p95: rank(95), p99: rank(99), max: sorted[sorted.length - 1]! }
}

/**
 * Counts distinct openings of a circuit from calls it failed fast: each `CircuitOpenError` says how long the circuit
 * stays open, so `at + retryAfter - openDuration` is when it opened; openings of one host at least `openDuration`
 * apart are told apart with a tolerance of a quarter of it.
 *
 * @internal
 */
export const countOpenings = (
  rejections: ReadonlyArray<{ readonly host: string; readonly at: number; readonly retryAfterMs: number }>,
  openDurationMs: number
): number => {
  const byHost = new Map<string, Array<number>>()
  for (const r of rejections) {
    const openedAt = r.at + r.retryAfterMs - openDurationMs
    const list = byHost.get(r.host) ?? []
    list.push(openedAt)
    byHost.set(r.host, list)
  }
  let count = 0
  for (const list of byHost.values()) {
    let last = Number.NEGATIVE_INFINITY
    for (const openedAt of list.toSorted((a, b) => a - b)) {
      if (openedAt - last > openDurationMs / 4) count++
      last = openedAt
    }
  }
  return count
}

// ---------------------------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface HostLine {
  readonly host: string
  readonly role: string
  readonly requests: number
  readonly peak: number
  readonly cap: number
}

/** @internal */
export interface Summary {
  readonly urls: number
  readonly hosts: number
  readonly done: number
  readonly notRun: number
  readonly stoppedBy: string | undefined
  readonly elapsedMs: number
  readonly outcomes: ReadonlyArray<readonly [label: string, count: number]>
  readonly ok: number
  readonly failed: number
  readonly attempts: number
  readonly retries: number
  /** 429 responses the transport saw (every attempt). */
  readonly rateLimited: number
  /** URLs whose final outcome was a 429 (`StatusError 429`): the rest of the 429s were followed by a retry. */
  readonly rateLimitedFinal: number
  readonly breakerOpenings: number
  readonly latency: Percentiles
  readonly perHost: ReadonlyArray<HostLine>
}

const fmt = (ms: number): string => ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)

/** @internal */
export const formatSummary = (s: Summary): string => {
  const seconds = s.elapsedMs / 1000
  const rate = seconds > 0 ? s.done / seconds : 0
  const lines: Array<string> = []
  lines.push(
    s.stoppedBy === undefined
      ? `async-ops demo: ${s.urls} URLs over ${s.hosts} hosts in ${seconds.toFixed(2)} s`
      : `async-ops demo: stopped by ${s.stoppedBy} after ${seconds.toFixed(2)} s, ${s.done} of ${s.urls} URLs done`
  )
  lines.push("")
  lines.push("outcomes")
  const width = Math.max(24, ...s.outcomes.map(([label]) => label.length + 2))
  for (const [label, count] of s.outcomes) lines.push(`  ${label.padEnd(width)}${String(count).padStart(7)}`)
  if (s.notRun > 0) lines.push(`  ${"not run (stopped)".padEnd(width)}${String(s.notRun).padStart(7)}`)
  lines.push(`  ${"total".padEnd(width)}${String(s.done + s.notRun).padStart(7)}`)
  lines.push("")
  lines.push(`succeeded          ${s.ok}`)
  lines.push(`failed             ${s.failed}`)
  lines.push(`attempts           ${s.attempts} (${s.retries} retries)`)
  lines.push(
    `429 Retry-After    ${s.rateLimited} responses: ${Math.max(0, s.rateLimited - s.rateLimitedFinal)} ` +
      `retried after the wait, ${s.rateLimitedFinal} final (StatusError 429)`
  )
  lines.push(`breaker openings   ${s.breakerOpenings}`)
  lines.push(
    `latency ms         p50 ${fmt(s.latency.p50)}  p95 ${fmt(s.latency.p95)}  p99 ${fmt(s.latency.p99)}  ` +
      `max ${fmt(s.latency.max)}`
  )
  lines.push(`throughput         ${rate.toFixed(0)} URLs/s`)
  lines.push("")
  lines.push("per host (seen by the server)")
  const hostWidth = Math.max(...s.perHost.map((h) => h.host.length), 4)
  lines.push(`  ${"host".padEnd(hostWidth)}  ${"role".padEnd(6)}  requests  peak/cap`)
  for (const h of s.perHost) {
    lines.push(
      `  ${h.host.padEnd(hostWidth)}  ${h.role.padEnd(6)}  ${String(h.requests).padStart(8)}  ${
        `${h.peak}/${h.cap}`.padStart(8)
      }`
    )
  }
  return lines.join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// Options and the fault plan
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface DemoOptions {
  readonly urls: number
  readonly hosts: number
  readonly concurrency: number
  readonly perHost: number
  readonly faults: number
  readonly latency: number
  readonly timeout: string
  readonly deadline: string
  readonly retries: number
  readonly seed: number
  /** Write an HTML report of the run to this path. */
  readonly report?: string | undefined
}

/** @internal */
export type Role = "normal" | "flaky" | "slow"

/** @internal */
export const roleOf = (index: number, hosts: number): Role =>
  hosts >= 2 && index === hosts - 1 ? "slow" : hosts >= 3 && index === 1 ? "flaky" : "normal"

/**
 * The script of one host's route: realistic latency (lognormal), a mix of 5xx, 429 with `Retry-After`, and resets
 * scaled by `faults`; the slow host has ten times the latency and a few replies past the attempt timeout; the flaky
 * host answers from a sequence with a burst of 503s every 400 requests (enough to open its circuit).
 *
 * @internal
 */
export const routeFor = (
  role: Role,
  options: { readonly faults: number; readonly latency: number; readonly timeoutMs: number }
): FaultServer.RouteScript => {
  const f = options.faults
  const median = role === "slow" ? options.latency * 3 : options.latency
  const latency: FaultServer.Latency = { kind: "lognormal", median, sigma: role === "slow" ? 0.9 : 0.5, max: 2_000 }
  const mix: Array<readonly [FaultServer.Reply, number]> = [
    [200, 1],
    [500, 0.01 * f],
    [503, 0.02 * f],
    [{ status: 429, retryAfter: 1 }, 0.015 * f],
    ["reset", 0.005 * f]
  ]
  if (role === "slow") mix.push([{ status: 200, latency: options.timeoutMs * 1.5 }, 0.01 * f])
  if (role !== "flaky" || f === 0) return { latency, mix: mix.filter(([, w]) => w > 0) }
  // a deterministic sequence: mostly 200 with the same sprinkling of faults, and a burst of 503s
  const sequence: Array<FaultServer.Reply> = []
  for (let i = 0; i < 400; i++) {
    if (i >= 150 && i < 160) sequence.push(503)
    else if (i % 97 === 13) sequence.push({ status: 429, retryAfter: 1 })
    else if (i % 61 === 7) sequence.push(500)
    else sequence.push(200)
  }
  return { latency, sequence }
}

/** The options with their durations parsed. */
interface Resolved extends Omit<DemoOptions, "timeout" | "deadline" | "report"> {
  readonly timeout: Duration.Duration
  readonly deadline: Duration.Duration
}

/** @internal */
export const resolveOptions = (o: DemoOptions): Effect.Effect<Resolved, UsageError> =>
  Effect.gen(function*() {
    const urls = yield* fromResult(checkInt("urls", o.urls, 1))
    const hosts = yield* fromResult(checkInt("hosts", o.hosts, 1))
    if (hosts > 254) return yield* new UsageError({ reason: `--hosts must be at most 254, got ${hosts}` })
    const concurrency = yield* fromResult(checkInt("concurrency", o.concurrency, 1))
    const perHost = yield* fromResult(checkInt("per-host", o.perHost, 1))
    const retries = yield* fromResult(checkInt("retries", o.retries, 0))
    if (!Number.isFinite(o.faults) || o.faults < 0 || o.faults > 10) {
      return yield* new UsageError({ reason: `--faults must be a number from 0 to 10, got ${o.faults}` })
    }
    if (!Number.isFinite(o.latency) || o.latency < 0) {
      return yield* new UsageError({ reason: `--latency must be a number of milliseconds >= 0, got ${o.latency}` })
    }
    if (!Number.isFinite(o.seed)) return yield* new UsageError({ reason: `--seed must be a number, got ${o.seed}` })
    const timeout = yield* fromResult(parseDuration("timeout", o.timeout))
    const deadline = yield* fromResult(parseDuration("deadline", o.deadline))
    if (Duration.isZero(timeout)) return yield* new UsageError({ reason: "--timeout must be > 0" })
    if (Duration.isZero(deadline)) return yield* new UsageError({ reason: "--deadline must be > 0" })
    return {
      urls,
      hosts,
      concurrency,
      perHost,
      faults: o.faults,
      latency: o.latency,
      timeout,
      deadline,
      retries,
      seed: o.seed
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

const OPEN_DURATION_MS = 500

const labelOf = (
  outcome: Gather.Outcome<FetchAll.Input, HttpResilience.Response, HttpResilienceError.HttpError>,
  meter: Meter.CallMeter | undefined
): string | undefined => {
  switch (outcome._tag) {
    case "Success":
      return `${outcome.value.status} ok`
    case "Failure": {
      const e = outcome.error
      const kind = meter?.kind ?? e._tag
      if (e._tag === "StatusError" && meter?.kind === undefined) return `${kind} ${e.status}`
      if (e._tag === "RequestTimeoutError" && meter?.kind === undefined) return `${kind} (${e.phase})`
      return kind
    }
    case "Defect":
      return "Defect"
    default:
      return undefined
  }
}

/** @internal */
export const run = (
  options: DemoOptions
): Effect.Effect<Summary, UsageError | StoppedError, Stdio.Stdio | FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const o = yield* resolveOptions(options)
    const timeoutMs = Duration.toMillis(o.timeout)
    const roles = Array.from({ length: o.hosts }, (_, i) => roleOf(i, o.hosts))
    const routes: Record<string, FaultServer.RouteScript> = {}
    roles.forEach((role, i) => {
      routes[`/h${i}/*`] = routeFor(role, { faults: o.faults, latency: o.latency, timeoutMs })
    })
    const server = yield* FaultServer.make({ hosts: o.hosts, seed: o.seed, routes, maxRecorded: 0 }).pipe(
      Effect.mapError((e) => new UsageError({ reason: e.message }))
    )
    const requests = Array.from(
      { length: o.urls },
      (_, i) => HttpClientRequest.get(server.url(`/h${i % o.hosts}/item/${i}`, i % o.hosts))
    )

    const { client, control, counters, meters, recorder } = yield* Meter.meteredClient(
      options.report === undefined ? undefined : {
        command:
          `async-ops demo: ${o.urls} URLs over ${o.hosts} hosts, concurrency ${o.concurrency}, ${o.perHost} per host`,
        perHostCap: o.perHost,
        totalCap: o.concurrency,
        openDurationMs: OPEN_DURATION_MS
      },
      {
        maxConnections: o.concurrency,
        maxConnectionsPerHost: o.perHost,
        requestTimeout: o.timeout,
        headersTimeout: o.timeout,
        poolWaitTimeout: Number.POSITIVE_INFINITY,
        retry: { maxAttempts: o.retries + 1, base: "50 millis", maxDelay: "1 second" },
        circuitBreaker: { failures: 5, openDuration: Duration.millis(OPEN_DURATION_MS) }
      }
    )
    const wrapped = Meter.metered(client, meters, control, counters, o.deadline)

    const stop = yield* gracefulStop("2 seconds", () => {
      control.stopping = true
    })

    const startedAt = yield* Clock.currentTimeMillis
    const progressRef = yield* FetchAll.makeProgress
    const stdio = yield* Stdio.Stdio
    const tty = yield* stdio.stderrIsTerminal
    let done = 0
    let failed = 0
    let rateLimitedFinal = 0
    const outcomes = new Map<string, number>()
    const durations: Array<number> = []
    const rejections: Array<{ host: string; at: number; retryAfterMs: number }> = []
    const progress = Effect.scoped(Effect.gen(function*() {
      yield* Progress.show(
        Effect.map(Effect.all([SubscriptionRef.get(progressRef), Clock.currentTimeMillis]), ([p, now]) => ({
          total: o.urls,
          done,
          failed,
          inFlight: p.inFlight,
          retrying: counters.retrying,
          elapsedMs: now - startedAt
        })),
        { tty, plain: true }
      )
      yield* FetchAll.stream(requests, { concurrency: o.concurrency, progress: progressRef }).pipe(
        Stream.provideService(HttpResilience.ResilientClient, wrapped),
        Stream.interruptWhen(Deferred.await(stop.hardStop)),
        Stream.runForEachArray((chunk) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            for (const outcome of chunk) {
              const meter = meters.get(outcome.input as HttpClientRequest.HttpClientRequest)
              const label = labelOf(outcome, meter)
              if (label === undefined) continue
              done++
              if (outcome._tag !== "Success") failed++
              if (outcome._tag === "Failure" && outcome.error._tag === "StatusError" && outcome.error.status === 429) {
                rateLimitedFinal++
              }
              outcomes.set(label, (outcomes.get(label) ?? 0) + 1)
              if (meter !== undefined) durations.push(meter.ms)
              const open = outcome._tag === "Failure" && outcome.error._tag === "CircuitOpenError"
                ? { host: outcome.error.host, retryAfterMs: Duration.toMillis(outcome.error.retryAfter) }
                : undefined
              if (open !== undefined) rejections.push({ ...open, at: now })
              recorder?.outcome(label, meter?.ms, now, open)
            }
          })
        ),
        Effect.catchTag("InvalidOptionError", (e) => Effect.fail(new UsageError({ reason: e.message })))
      )
    }))
    yield* progress
    const endedAt = yield* Clock.currentTimeMillis
    const stats = yield* server.stats
    const summary: Summary = {
      urls: o.urls,
      hosts: o.hosts,
      done,
      notRun: o.urls - done,
      stoppedBy: stop.stoppedBy(),
      elapsedMs: endedAt - startedAt,
      outcomes: Array.from(outcomes.entries()).toSorted((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
      ok: done - failed,
      failed,
      attempts: counters.attempts,
      retries: counters.attempts - counters.calls,
      rateLimited: counters.byStatus.get(429) ?? 0,
      rateLimitedFinal,
      breakerOpenings: countOpenings(rejections, OPEN_DURATION_MS),
      latency: percentiles(durations),
      perHost: server.hosts.map((host, i) => ({
        host,
        role: roles[i]!,
        requests: stats.byHost[host]?.count ?? 0,
        peak: stats.byHost[host]?.peakConcurrency ?? 0,
        cap: o.perHost
      }))
    }
    yield* Console.log(formatSummary(summary))
    if (recorder !== undefined && options.report !== undefined) yield* Report.write(recorder, options.report)
    const stoppedBy = stop.stoppedBy()
    if (stoppedBy !== undefined) {
      return yield* new StoppedError({
        signal: stoppedBy,
        exitCode: exitCodeOf(stoppedBy),
        reason: `demo stopped by ${stoppedBy}`
      })
    }
    return summary
  }))
