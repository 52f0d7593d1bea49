/**
 * The distributed limiter's engine: one instance per `(name, process)`, holding the local waiters (woken by pub/sub
 * or by a bounded re-check), the lease guard of every holder, and the local counters.
 *
 * @internal
 */
import { LeaseLostError } from "@async-ops/core/Election"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import { pipeArguments } from "effect/Pipeable"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import type {
  DistributedLimiter,
  KeyedDistributedLimiter,
  KeyedOptions,
  KeyedStats,
  Options,
  Stats
} from "../DistributedLimiter.ts"
import { RedisUnavailableError } from "../RedisConnection.ts"
import * as Scripts from "./leaseScripts.ts"
import { durationOption, intOption } from "./options.ts"

interface Config {
  readonly name: string
  readonly prefix: string
  readonly perKey: number
  /** 0: no global cap. */
  readonly global: number
  readonly ttl: number
  readonly refreshInterval: number
  /** When a holder that could not refresh is interrupted: `ttl - margin` after its last confirmed refresh. */
  readonly margin: number
  readonly commandTimeout: number
  readonly recheckInterval: number
}

interface BaseOptions {
  readonly name: string
  readonly ttl?: Duration.Input | undefined
  readonly refreshInterval?: Duration.Input | undefined
  readonly commandTimeout?: Duration.Input | undefined
  readonly recheckInterval?: Duration.Input | undefined
  readonly prefix?: string | undefined
}

const config = (
  module: string,
  options: BaseOptions,
  perKey: number | undefined,
  perKeyOption: string,
  global: number | undefined
): Effect.Effect<Config, InvalidOptionError> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) {
      return yield* new InvalidOptionError({ module, option: "options", expected: "an object", value: options })
    }
    if (typeof options.name !== "string" || options.name === "" || /[{}]/.test(options.name)) {
      return yield* new InvalidOptionError({
        module,
        option: "name",
        expected: "a non-empty string without { or } (processes sharing a name share the limit)",
        value: options.name
      })
    }
    const prefixOption = options.prefix ?? "async-ops:limiter"
    if (typeof prefixOption !== "string" || /[{}]/.test(prefixOption)) {
      return yield* new InvalidOptionError({
        module,
        option: "prefix",
        expected: "a string without { or }",
        value: options.prefix
      })
    }
    const cap = yield* intOption(module, perKeyOption, perKey, undefined, 1)
    if (cap === undefined) {
      return yield* new InvalidOptionError({ module, option: perKeyOption, expected: "an integer >= 1", value: perKey })
    }
    const globalCap = (yield* intOption(module, "global", global, 0, 1)) ?? 0
    const ttl = yield* durationOption(module, "ttl", options.ttl, 10_000, 10)
    const refreshInterval = yield* durationOption(
      module,
      "refreshInterval",
      options.refreshInterval,
      Math.floor(ttl / 3),
      1
    )
    if (refreshInterval >= ttl) {
      return yield* new InvalidOptionError({
        module,
        option: "refreshInterval",
        expected: `a duration shorter than ttl (${ttl} ms), so a lease is refreshed before it runs out`,
        value: options.refreshInterval ?? refreshInterval
      })
    }
    const commandTimeout = yield* durationOption(module, "commandTimeout", options.commandTimeout, 2_000, 1)
    const recheckInterval = yield* durationOption(
      module,
      "recheckInterval",
      options.recheckInterval,
      Math.min(1_000, refreshInterval),
      1
    )
    if (recheckInterval >= ttl) {
      return yield* new InvalidOptionError({
        module,
        option: "recheckInterval",
        expected: `a duration shorter than ttl (${ttl} ms), so a waiter's heartbeat outlives its re-checks`,
        value: options.recheckInterval
      })
    }
    return {
      name: options.name,
      prefix: `${prefixOption}:{${options.name}}`,
      perKey: cap,
      global: globalCap,
      ttl,
      refreshInterval,
      margin: (ttl - refreshInterval) / 2,
      commandTimeout,
      recheckInterval
    }
  })

interface Counters {
  acquired: number
  waited: number
  rejected: number
  leasesLost: number
  inFlight: number
  waiting: number
}

interface Engine {
  readonly config: Config
  readonly counters: Counters
  readonly run: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>,
    wait: boolean
  ) => Effect.Effect<Option.Option<A>, E | LeaseLostError | RedisUnavailableError, R>
  readonly fleet: Effect.Effect<
    {
      readonly holders: number
      readonly waiters: number
      readonly byKey: ReadonlyMap<string, { readonly holders: number; readonly waiters: number }>
    },
    RedisUnavailableError
  >
}

interface Waiter {
  /** A wake-up arrived while the waiter was not parked: the next pause returns at once. */
  woken: boolean
  resume: (() => void) | undefined
}

const nowMillis = Effect.map(Clock.currentTimeNanos, (ns) => Number(ns) / 1e6)

const makeEngine = (config: Config): Effect.Effect<Engine, RedisUnavailableError, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const background = yield* FiberSet.make()
    const counters: Counters = { acquired: 0, waited: 0, rejected: 0, leasesLost: 0, inFlight: 0, waiting: 0 }
    /**
     * Local waiters by id, registered before their first admission attempt, so a wake-up that arrives before the
     * waiter parks is kept (`woken`) instead of lost.
     */
    const waiters = new Map<string, Waiter>()
    const { prefix, perKey, global, ttl } = config

    const command = <A>(
      operation: string,
      effect: Effect.Effect<A, Redis.RedisError>,
      timeout = config.commandTimeout
    ) =>
      effect.pipe(
        Effect.mapError((cause) => new RedisUnavailableError({ operation, cause })),
        Effect.timeoutOrElse({
          duration: Duration.millis(Math.max(0, timeout)),
          orElse: () =>
            Effect.fail(
              new RedisUnavailableError({
                operation,
                cause: new Cause.TimeoutError(`no answer within ${Math.round(timeout)} ms`)
              })
            )
        })
      )

    const acquireOnce = (id: string, key: string, wait: boolean) =>
      command("acquire", redis.eval(Scripts.acquire)(prefix, id, key, perKey, global, ttl, ttl, wait ? 1 : 0))

    const release = (id: string, key: string) =>
      command("release", redis.eval(Scripts.release)(prefix, id, key, perKey, global)).pipe(
        Effect.catch((error) => Effect.logDebug(`DistributedLimiter ${config.name}: release failed`, error))
      )

    /** Leaves the queues (and gives back a lease the last, unanswered, acquire may have granted), off the caller. */
    const abandon = (id: string, key: string) => Effect.asVoid(FiberSet.run(background, release(id, key)))

    // Wake-ups: the release script publishes the ids that may now be admitted.
    yield* Effect.forkScoped(
      Effect.gen(function*() {
        const messages = yield* redis.subscribe(`${prefix}:wake`)
        while (true) {
          const message = yield* Queue.take(messages)
          for (const id of message.message.split(",")) {
            const waiter = waiters.get(id)
            if (waiter === undefined) continue
            const resume = waiter.resume
            if (resume === undefined) {
              waiter.woken = true
            } else {
              waiter.resume = undefined
              resume()
            }
          }
        }
      }).pipe(
        Effect.scoped,
        Effect.catchCause(() => Effect.void),
        // A lost subscription only slows waiters down to the re-check interval; subscribe again after a pause.
        Effect.repeat(Schedule.spaced(Duration.millis(config.recheckInterval)))
      ),
      { startImmediately: true }
    )

    /** Waits until woken (or already woken since the last pause) or `recheckInterval` passes. */
    const pause = (waiter: Waiter) =>
      Effect.suspend(() => {
        if (waiter.woken) {
          waiter.woken = false
          return Effect.void
        }
        return Effect.callback<void>((resume) => {
          waiter.resume = () => resume(Effect.void)
          return Effect.sync(() => {
            waiter.resume = undefined
          })
        }).pipe(
          Effect.timeoutOption(Duration.millis(config.recheckInterval)),
          Effect.ensuring(Effect.sync(() => {
            waiter.resume = undefined
            waiter.woken = false
          }))
        )
      })

    /** Admits `id` (waiting in line when `wait`); returns the local time the granting script was sent, or none. */
    const admit = (id: string, key: string, wait: boolean) =>
      Effect.suspend(() => {
        if (!wait) {
          return Effect.flatMap(nowMillis, (sent) =>
            Effect.map(acquireOnce(id, key, false), (r) => r === 1 ? Option.some(sent) : Option.none<number>()))
        }
        const waiter: Waiter = { woken: false, resume: undefined }
        waiters.set(id, waiter)
        return Effect.gen(function*() {
          const sent = yield* nowMillis
          if ((yield* acquireOnce(id, key, true)) === 1) {
            return Option.some(sent)
          }
          counters.waiting++
          counters.waited++
          const granted = yield* Effect.gen(function*() {
            while (true) {
              yield* pause(waiter)
              const at = yield* nowMillis
              if ((yield* acquireOnce(id, key, true)) === 1) {
                return at
              }
            }
          }).pipe(Effect.ensuring(Effect.sync(() =>
            counters.waiting--
          )))
          return Option.some(granted)
        }).pipe(Effect.ensuring(Effect.sync(() => waiters.delete(id))))
      })

    /**
     * Fails with LeaseLostError when the lease cannot be confirmed: the refresh script says it is gone, or no refresh
     * has succeeded by `ttl - margin` after the last confirmed one.
     */
    const guard = (id: string, key: string, granted: number): Effect.Effect<never, LeaseLostError> =>
      Effect.gen(function*() {
        let anchor = granted
        let next = anchor + config.refreshInterval
        while (true) {
          const now = yield* nowMillis
          if (next > now) yield* Effect.sleep(Duration.millis(next - now))
          const sent = yield* nowMillis
          const lostAt = anchor + ttl - config.margin
          if (sent >= lostAt) {
            return yield* new LeaseLostError({ limiter: config.name, key, reason: "expiring" })
          }
          const result = yield* Effect.result(
            command(
              "refresh",
              redis.eval(Scripts.refresh)(prefix, id, key, ttl),
              Math.min(config.commandTimeout, lostAt - sent)
            )
          )
          if (result._tag === "Success") {
            if (result.success !== 1) return yield* new LeaseLostError({ limiter: config.name, key, reason: "expired" })
            anchor = sent
            next = anchor + config.refreshInterval
          } else {
            // Try again soon, but never past the point where the holder must stop.
            next = Math.min((yield* nowMillis) + config.refreshInterval / 4, lostAt)
          }
        }
      })

    const run = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>, wait: boolean) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const id = Crypto.randomUUID()
          const granted = yield* restore(admit(id, key, wait)).pipe(Effect.onError(() => abandon(id, key)))
          if (Option.isNone(granted)) {
            counters.rejected++
            return Option.none<A>()
          }
          counters.acquired++
          counters.inFlight++
          return yield* restore(
            Effect.raceFirst(effect, guard(id, key, granted.value)).pipe(
              Effect.tapError((e) =>
                Effect.sync(() => {
                  if (e instanceof LeaseLostError) counters.leasesLost++
                })
              ),
              Effect.map(Option.some)
            )
          ).pipe(
            Effect.ensuring(Effect.suspend(() => {
              counters.inFlight--
              return release(id, key)
            }))
          )
        })
      )

    const fleet = command("stats", redis.eval(Scripts.stats)(prefix)).pipe(
      Effect.map((out) => {
        const byKey = new Map<string, { holders: number; waiters: number }>()
        for (let i = 2; i + 2 < out.length + 1; i += 3) {
          byKey.set(String(out[i]), { holders: Number(out[i + 1]), waiters: Number(out[i + 2]) })
        }
        return { holders: Number(out[0]), waiters: Number(out[1]), byKey }
      })
    )

    // The first round trip: loads the scripts and proves Redis answers before the limiter is handed out.
    yield* fleet
    return { config, counters, run, fleet }
  })

const localStats = (engine: Engine) => ({
  name: engine.config.name,
  acquired: engine.counters.acquired,
  waited: engine.counters.waited,
  rejected: engine.counters.rejected,
  leasesLost: engine.counters.leasesLost,
  local: { inFlight: engine.counters.inFlight, waiting: engine.counters.waiting }
})

const Proto = {
  pipe() {
    return pipeArguments(this, arguments)
  }
}

export const make = (
  options: Options
): Effect.Effect<DistributedLimiter, InvalidOptionError | RedisUnavailableError, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const cfg = yield* config("DistributedLimiter.make", options, options?.limit, "limit", undefined)
    const engine = yield* makeEngine(cfg)
    const stats: Effect.Effect<Stats> = Effect.map(Effect.result(engine.fleet), (fleet) => {
      const local = localStats(engine)
      return fleet._tag === "Success"
        ? { ...local, limit: cfg.perKey, inFlight: fleet.success.holders, waiting: fleet.success.waiters, fleet: true }
        : { ...local, limit: cfg.perKey, inFlight: local.local.inFlight, waiting: local.local.waiting, fleet: false }
    })
    const limiter: DistributedLimiter = Object.assign(Object.create(Proto), {
      name: cfg.name,
      withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.map(engine.run("", effect, true), (o) => (o as Option.Some<A>).value),
      withPermitIfAvailable: <A, E, R>(effect: Effect.Effect<A, E, R>) => engine.run("", effect, false),
      stats
    })
    return limiter
  })

export const keyed = (
  options: KeyedOptions
): Effect.Effect<KeyedDistributedLimiter, InvalidOptionError | RedisUnavailableError, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const cfg = yield* config("DistributedLimiter.keyed", options, options?.perKey, "perKey", options?.global)
    const engine = yield* makeEngine(cfg)
    const stats: Effect.Effect<KeyedStats> = Effect.map(Effect.result(engine.fleet), (fleet) => {
      const local = localStats(engine)
      const base = { ...local, limit: cfg.global === 0 ? Infinity : cfg.global, perKey: cfg.perKey }
      return fleet._tag === "Success"
        ? {
          ...base,
          inFlight: fleet.success.holders,
          waiting: fleet.success.waiters,
          keys: fleet.success.byKey.size,
          byKey: Object.fromEntries(fleet.success.byKey),
          fleet: true
        }
        : {
          ...base,
          inFlight: local.local.inFlight,
          waiting: local.local.waiting,
          keys: 0,
          byKey: {},
          fleet: false
        }
    })
    const limiter: KeyedDistributedLimiter = Object.assign(Object.create(Proto), {
      name: cfg.name,
      withPermit: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) =>
        Effect.map(engine.run(key, effect, true), (o) => (o as Option.Some<A>).value),
      withPermitIfAvailable: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => engine.run(key, effect, false),
      stats
    })
    return limiter
  })
