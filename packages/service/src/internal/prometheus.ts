/**
 * The `/metrics` route: Effect's Prometheus formatter plus the process metrics a scrape expects.
 *
 * @internal
 */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import * as Result from "effect/Result"
import type { Options } from "../Prometheus.ts"

/** @internal */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const residentMemory = Metric.gauge("process_resident_memory_bytes", {
  description: "Resident memory size in bytes"
})
const heapUsed = Metric.gauge("nodejs_heap_size_used_bytes", { description: "V8 heap used in bytes" })
const heapTotal = Metric.gauge("nodejs_heap_size_total_bytes", { description: "V8 heap size in bytes" })
const cpuUser = Metric.counter("process_cpu_user_seconds_total", {
  description: "User CPU time spent in seconds",
  incremental: true
})
const cpuSystem = Metric.counter("process_cpu_system_seconds_total", {
  description: "System CPU time spent in seconds",
  incremental: true
})
const startTime = Metric.gauge("process_start_time_seconds", {
  description: "Start time of the process since the Unix epoch in seconds"
})

let lastCpu: NodeJS.CpuUsage = { user: 0, system: 0 }
const startedAtSeconds = Math.round((performance.timeOrigin) / 1000)

const sampleProcess: Effect.Effect<void> = Effect.suspend(() => {
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  const userDelta = Math.max(0, cpu.user - lastCpu.user) / 1e6
  const systemDelta = Math.max(0, cpu.system - lastCpu.system) / 1e6
  lastCpu = cpu
  return Effect.all([
    Metric.update(residentMemory, memory.rss),
    Metric.update(heapUsed, memory.heapUsed),
    Metric.update(heapTotal, memory.heapTotal),
    Metric.update(cpuUser, userDelta),
    Metric.update(cpuSystem, systemDelta),
    Metric.update(startTime, startedAtSeconds)
  ], { discard: true })
})

interface Resolved {
  readonly path: HttpRouter.PathInput
  readonly prefix: string | undefined
  readonly processMetrics: boolean
}

const validate = (module: string, options: Options | undefined): InvalidOption.Check<Resolved> =>
  Result.map(
    Result.all([
      InvalidOption.check(
        module,
        "path",
        options?.path ?? "/metrics",
        (u): u is HttpRouter.PathInput => typeof u === "string" && u.startsWith("/"),
        "a path starting with \"/\""
      ),
      InvalidOption.check(
        module,
        "prefix",
        options?.prefix,
        (u): u is string | undefined =>
          u === undefined || (typeof u === "string" && /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(u)),
        "a Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)"
      ),
      InvalidOption.check(
        module,
        "processMetrics",
        options?.processMetrics ?? true,
        (u): u is boolean => typeof u === "boolean",
        "a boolean"
      )
    ]),
    ([path, prefix, processMetrics]) => ({ path, prefix, processMetrics })
  )

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*?)_ms(_bucket|_sum|_count|_total)?(\{.*\})? (\S+)(.*)$/
const META = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*?)_ms( .*)$/

const scaled = (value: string): string => {
  const n = Number(value)
  return Number.isFinite(n) ? String(n / 1000) : value
}

/**
 * Rewrites the metric families measured in milliseconds (named `*_ms`, as several of this project's histograms
 * are) into Prometheus base units: the name ends in `_seconds`, bucket bounds, sums, quantile values and gauge or
 * counter values are divided by 1000, counts are kept. `promtool check metrics` rejects abbreviated units, and
 * dashboards expect seconds.
 *
 * @internal
 */
export const toBaseUnits = (text: string): string =>
  text.split("\n").map((line) => {
    const meta = META.exec(line)
    if (meta !== null) {
      const rest = meta[1] === "HELP" ? meta[3]!.replace(/\bmilliseconds\b/g, "seconds") : meta[3]
      return `# ${meta[1]} ${meta[2]}_seconds${rest}`
    }
    const sample = SAMPLE.exec(line)
    if (sample === null) return line
    const [, name, suffix = "", labels = "", value, tail] = sample
    const newLabels = suffix === "_bucket"
      ? labels.replace(/le="([^"]+)"/, (_, le: string) => `le="${scaled(le)}"`)
      : labels
    const newValue = suffix === "_count" || suffix === "_bucket" ? value! : scaled(value!)
    return `${name}_seconds${suffix}${newLabels} ${newValue}${tail}`
  }).join("\n")

const formatResolved = (resolved: Resolved): Effect.Effect<string> =>
  Effect.andThen(
    resolved.processMetrics ? sampleProcess : Effect.void,
    Effect.map(
      PrometheusMetrics.format(resolved.prefix === undefined ? undefined : { prefix: resolved.prefix }),
      toBaseUnits
    )
  )

/** @internal */
export const format = (options?: Options): Effect.Effect<string, InvalidOptionError> =>
  Effect.suspend(() => {
    const resolved = validate("Prometheus.format", options)
    return Result.isFailure(resolved) ? Effect.fail(resolved.failure) : formatResolved(resolved.success)
  })

/** @internal */
export const handler = (
  options?: Options
): Effect.Effect<Effect.Effect<HttpServerResponse.HttpServerResponse>, InvalidOptionError> =>
  Effect.suspend(() => {
    const checked = validate("Prometheus.handler", options)
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const resolved = checked.success
    return Effect.succeed(
      Effect.map(formatResolved(resolved), (body) => HttpServerResponse.text(body, { contentType: CONTENT_TYPE }))
    )
  })

/** @internal */
export const layer = (options?: Options): Layer.Layer<never, InvalidOptionError, HttpRouter.HttpRouter> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const resolved = yield* Effect.fromResult(validate("Prometheus.layer", options))
    const router = yield* HttpRouter.HttpRouter
    yield* router.add(
      "GET",
      resolved.path,
      Effect.map(formatResolved(resolved), (body) => HttpServerResponse.text(body, { contentType: CONTENT_TYPE }))
    )
  }))
