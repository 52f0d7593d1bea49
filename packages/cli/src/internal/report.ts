/**
 * The recorder behind `--report run.html` of `demo` and `fetch`: what the run did, timestamped with the `Clock`
 * (attempts in flight per host, retries, outcomes and latencies, circuit-open rejections, the limit of every
 * adaptive limiter sampled from the registry), and the self-contained HTML file drawn from it.
 *
 * @internal
 */
import * as Registry from "@async-ops/core/Registry"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { renderHtml } from "./reportHtml.ts"
import { UsageError } from "./usage.ts"

/** @internal */
export interface RunInfo {
  /** The command line, shown in the title. */
  readonly command: string
  /** The cap of attempts in flight per host. */
  readonly perHostCap: number
  /** The total cap (Infinity: none). */
  readonly totalCap: number
  /** How long an open circuit stays open, ms (undefined: no breaker). */
  readonly openDurationMs: number | undefined
}

/** @internal */
export class Recorder {
  readonly info: RunInfo
  startedAt = 0
  endedAt = 0
  readonly hosts: Array<string> = []
  private readonly hostIndex = new Map<string, number>()
  /** In-flight changes: [ms since start, host index, +1 or -1]. */
  readonly inFlight: Array<readonly [number, number, 1 | -1]> = []
  /** Retries: [ms since start, host index]. */
  readonly retries: Array<readonly [number, number]> = []
  readonly outcomes = new Map<string, number>()
  readonly latencies: Array<number> = []
  /** Completions: ms since start of each outcome. */
  readonly completions: Array<number> = []
  /** Circuit-open rejections: host, ms since start, retry-after ms. */
  readonly rejections: Array<{ readonly host: string; readonly at: number; readonly retryAfterMs: number }> = []
  /** Adaptive limits sampled from the registry: name -> [ms since start, limit]. */
  readonly limits = new Map<string, Array<readonly [number, number]>>()
  /** The run's clock (read synchronously by {@link outcomeNow}). */
  private readonly clock: Clock.Clock

  constructor(info: RunInfo, clock: Clock.Clock) {
    this.info = info
    this.clock = clock
  }

  /** {@link outcome}, timestamped with the run's clock now. */
  outcomeNow(label: string, latencyMs: number | undefined): void {
    this.outcome(label, latencyMs, this.clock.currentTimeMillisUnsafe())
  }

  private host(host: string): number {
    let i = this.hostIndex.get(host)
    if (i === undefined) {
      i = this.hosts.length
      this.hosts.push(host)
      this.hostIndex.set(host, i)
    }
    return i
  }

  /** Wraps one attempt sent to `url` (`attempt` 1 for the first): in flight from start to end, retries marked. */
  attempt<A, E, R>(url: string, attempt: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    let hostname: string
    try {
      hostname = new URL(url).host
    } catch {
      hostname = "no host"
    }
    const host = this.host(hostname)
    return Effect.flatMap(Clock.currentTimeMillis, (start) => {
      const t = start - this.startedAt
      this.inFlight.push([t, host, 1])
      if (attempt >= 2) this.retries.push([t, host])
      return Effect.onExit(
        effect,
        () => Effect.map(Clock.currentTimeMillis, (end) => void this.inFlight.push([end - this.startedAt, host, -1]))
      )
    })
  }

  /** One input's outcome, its latency (all attempts) and, for a circuit-open rejection, the host and retry-after. */
  outcome(
    label: string,
    latencyMs: number | undefined,
    now: number,
    circuitOpen?: { readonly host: string; readonly retryAfterMs: number }
  ): void {
    this.outcomes.set(label, (this.outcomes.get(label) ?? 0) + 1)
    if (latencyMs !== undefined) this.latencies.push(latencyMs)
    this.completions.push(now - this.startedAt)
    if (circuitOpen !== undefined) this.rejections.push({ ...circuitOpen, at: now - this.startedAt })
  }

  /** Records the limit of every adaptive limiter in the registry now. */
  readonly sample: Effect.Effect<void> = Effect.flatMap(
    Effect.all([Registry.snapshot, Clock.currentTimeMillis]),
    ([entries, now]) =>
      Effect.sync(() => {
        for (const e of entries) {
          if (e.kind !== "AdaptiveLimiter" || typeof e.stats.limit !== "number") continue
          const series = this.limits.get(e.name) ?? []
          series.push([now - this.startedAt, e.stats.limit])
          this.limits.set(e.name, series)
        }
      })
  )
}

/**
 * A recorder started now, sampling the registry's adaptive limiters every 100 ms until the scope closes.
 *
 * @internal
 */
export const make = (info: RunInfo): Effect.Effect<Recorder, never, Scope.Scope> =>
  Effect.gen(function*() {
    const recorder = new Recorder(info, yield* Clock.Clock)
    recorder.startedAt = yield* Clock.currentTimeMillis
    yield* recorder.sample.pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkScoped)
    return recorder
  })

/**
 * Ends the recording and writes the HTML file.
 *
 * @internal
 */
export const write = (
  recorder: Recorder,
  path: string
): Effect.Effect<void, UsageError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    yield* recorder.sample
    recorder.endedAt = (yield* Clock.currentTimeMillis) - recorder.startedAt
    const fs = yield* FileSystem.FileSystem
    yield* fs.writeFileString(path, renderHtml(recorder)).pipe(
      Effect.mapError((e) => new UsageError({ reason: `cannot write the report ${path}: ${e.message}` }))
    )
  })
