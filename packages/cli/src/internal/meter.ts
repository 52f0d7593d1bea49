/**
 * The metered client behind `fetch` and `demo`: the resilient client (`@async-ops/http/HttpResilience`) over an
 * undici transport that counts every attempt, wrapped so that each call records its attempts, duration and the
 * kind of its outcome, and so that a stop request turns calls not yet started into interruptions.
 *
 * @internal
 */
import * as Deadline from "@async-ops/core/Deadline"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as HttpResilienceError from "@async-ops/http/HttpResilienceError"
import { NodeHttpClient } from "@effect/platform-node"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Report from "./report.ts"
import { UsageError } from "./usage.ts"

/**
 * What one call did: attempts sent to the transport, wall time, and the kind of the outcome when the resilient
 * client's own error does not say it (a deadline).
 *
 * @internal
 */
export interface CallMeter {
  attempts: number
  ms: number
  kind: string | undefined
}

/** The meter of the call running in this fiber (read by the transport decorator). */
const CurrentCall: Context.Reference<CallMeter | undefined> = Context.Reference<CallMeter | undefined>(
  "@async-ops/cli/internal/meter/CurrentCall",
  { defaultValue: () => undefined }
)

/**
 * Counters of every attempt the transport saw.
 *
 * @internal
 */
export interface AttemptCounters {
  /** Calls that sent at least one attempt. */
  calls: number
  attempts: number
  /** Calls now on their second attempt or later. */
  retrying: number
  readonly byStatus: Map<number, number>
  transportErrors: number
  interrupted: number
  /** Records every attempt for `--report` when set. */
  recorder?: Report.Recorder | undefined
}

/** @internal */
export const makeCounters = (): AttemptCounters => ({
  calls: 0,
  attempts: 0,
  retrying: 0,
  byStatus: new Map(),
  transportErrors: 0,
  interrupted: 0
})

const instrument = (counters: AttemptCounters) => (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.transform(client, (effect, request) =>
    Effect.flatMap(CurrentCall, (call) => {
      if (call !== undefined) {
        call.attempts++
        if (call.attempts === 1) counters.calls++
        if (call.attempts === 2) counters.retrying++
      }
      counters.attempts++
      const attempt = counters.recorder?.attempt(request.url, call?.attempts ?? 1, effect) ?? effect
      return Effect.onExit(attempt, (exit) => {
        if (Exit.isSuccess(exit)) {
          const status = exit.value.status
          counters.byStatus.set(status, (counters.byStatus.get(status) ?? 0) + 1)
        } else if (Exit.hasInterrupts(exit)) {
          counters.interrupted++
        } else {
          counters.transportErrors++
        }
        return Effect.void
      })
    }))

/**
 * The resilient client over an undici agent sized like `HttpResilience.layerUndici` does it, with every attempt
 * counted in `counters`.
 *
 * @internal
 */
export const layer = (
  options: HttpResilience.Options,
  counters: AttemptCounters,
  transportOptions?: {
    /** Redirects (3xx with a `Location`) followed per attempt, each hop not counted as an attempt. Default: 0. */
    readonly maxRedirects?: number | undefined
  }
): Layer.Layer<HttpResilience.ResilientClient, InvalidOptionError> => {
  const maxRedirects = transportOptions?.maxRedirects ?? 0
  const perHost = options.maxConnectionsPerHost
  const connect = options.connectTimeout
  const transport = NodeHttpClient.layerUndiciOptions({
    ...(perHost !== undefined && Number.isFinite(perHost) ? { connections: perHost } : {}),
    ...(connect !== undefined ? { connect: { timeout: Duration.toMillis(Duration.fromInputUnsafe(connect)) } } : {})
  })
  const metered = Layer.effect(
    HttpClient.HttpClient,
    Effect.map(
      HttpClient.HttpClient,
      (client) => instrument(counters)(maxRedirects > 0 ? HttpClient.followRedirects(client, maxRedirects) : client)
    )
  )
  return HttpResilience.layer(options).pipe(Layer.provide(Layer.provide(metered, transport)))
}

/**
 * How calls are stopped: `stopping` makes calls not yet started end as interruptions (so `FetchAll` records them
 * as `Interrupted` and moves on) while calls in flight finish.
 *
 * @internal
 */
export interface Control {
  stopping: boolean
}

/**
 * The meters of the calls made through {@link metered}, by request (each input gets a request object of its own).
 *
 * @internal
 */
export type Meters = WeakMap<HttpClientRequest.HttpClientRequest, CallMeter>

/**
 * Wraps a resilient client: each `execute` records its {@link CallMeter} in `meters`, runs under `deadline` when
 * given (a `DeadlineExceededError` is recorded as that kind and surfaces as a request-phase timeout), and does not
 * start once `control.stopping` is set.
 *
 * @internal
 */
export const metered = (
  client: HttpResilience.ResilientClient,
  meters: Meters,
  control: Control,
  counters: AttemptCounters,
  deadline: Duration.Duration | undefined
): HttpResilience.ResilientClient => {
  const execute = (
    request: HttpClientRequest.HttpClientRequest
  ): Effect.Effect<HttpResilience.Response, HttpResilienceError.HttpError> =>
    Effect.suspend(() => {
      if (control.stopping) return Effect.interrupt
      const meter: CallMeter = { attempts: 0, ms: 0, kind: undefined }
      meters.set(request, meter)
      let call: Effect.Effect<HttpResilience.Response, HttpResilienceError.HttpError> = client.execute(request)
      if (deadline !== undefined) {
        const d = deadline
        call = Effect.catchTags(Deadline.within(call, d), {
          DeadlineExceededError: () => {
            meter.kind = "DeadlineExceededError"
            return Effect.fail(
              new HttpResilienceError.RequestTimeoutError({
                phase: "request",
                timeout: d,
                method: request.method,
                url: request.url
              })
            )
          },
          InvalidOptionError: (e) => Effect.die(e)
        })
      }
      return Effect.flatMap(Clock.currentTimeNanos, (start) =>
        call.pipe(
          Effect.provideService(CurrentCall, meter),
          Effect.onExit(() =>
            Effect.map(Clock.currentTimeNanos, (end) => {
              meter.ms = Number(end - start) / 1e6
              if (meter.attempts >= 2) counters.retrying--
            })
          )
        ))
    })
  return {
    name: client.name,
    execute,
    get: client.get,
    head: client.head,
    post: client.post,
    put: client.put,
    patch: client.patch,
    del: client.del,
    stats: client.stats
  }
}

/**
 * The metered resilient client of a run (`fetch`, `demo`), with its attempt counters, the meters and stop control
 * of `metered`, and the recorder of its HTML report when `report` (the run's description) is given.
 *
 * @internal
 */
export const meteredClient = (
  report: Report.RunInfo | undefined,
  options: HttpResilience.Options,
  transportOptions?: { readonly maxRedirects?: number | undefined }
): Effect.Effect<
  {
    readonly counters: AttemptCounters
    readonly recorder: Report.Recorder | undefined
    readonly meters: Meters
    readonly control: Control
    readonly client: HttpResilience.ResilientClient
  },
  UsageError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const counters = makeCounters()
    const recorder = report === undefined ? undefined : yield* Report.make(report)
    counters.recorder = recorder
    const meters: Meters = new WeakMap()
    const control: Control = { stopping: false }
    const client = yield* Layer.build(layer(options, counters, transportOptions)).pipe(
      Effect.map((context) => Context.get(context, HttpResilience.ResilientClient)),
      Effect.mapError((e) => new UsageError({ reason: e.message }))
    )
    return { counters, recorder, meters, control, client }
  })
