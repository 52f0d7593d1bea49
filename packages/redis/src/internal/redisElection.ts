/**
 * RedisElection: acquire/refresh/release scripts, the campaign loop and the lease watchdog.
 *
 * @internal
 */
import * as Election from "@async-ops/core/Election"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Clock from "effect/Clock"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import type { Options } from "../RedisElection.ts"
import { durationOption } from "./options.ts"

const MODULE = "RedisElection.make"

/** Takes the lease (or confirms we hold it already: a retried SET whose reply was lost). 1 when held. */
const acquireScript = Redis.script(
  (key: string, token: string, ttl: number) => [key, token, ttl],
  {
    lua: `
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0`,
    numberOfKeys: 1
  }
).withReturnType<number>()

/** Extends the lease only while it still holds our token. 1 when extended, 0 when lost. */
const refreshScript = Redis.script(
  (key: string, token: string, ttl: number) => [key, token, ttl],
  {
    lua: `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0`,
    numberOfKeys: 1
  }
).withReturnType<number>()

const releaseScript = Redis.script(
  (key: string, token: string) => [key, token],
  {
    lua: `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`,
    numberOfKeys: 1
  }
).withReturnType<number>()

interface Config {
  readonly prefix: string
  readonly ttl: number
  readonly refreshInterval: number
  readonly retryInterval: number
  readonly guard: number
}

const validate = (options: Options | undefined): Effect.Effect<Config, InvalidOptionError> =>
  Effect.gen(function*() {
    const opts = options ?? {}
    const prefix = opts.prefix ?? "async-ops:election:"
    if (typeof prefix !== "string") {
      return yield* new InvalidOptionError({ module: MODULE, option: "prefix", expected: "a string", value: prefix })
    }
    const ttl = yield* durationOption(MODULE, "ttl", opts.ttl, 10_000, 10)
    const refreshInterval = yield* durationOption(MODULE, "refreshInterval", opts.refreshInterval, ttl / 3)
    if (refreshInterval >= ttl) {
      return yield* new InvalidOptionError({
        module: MODULE,
        option: "refreshInterval",
        expected: `a duration shorter than ttl (${ttl} ms)`,
        value: opts.refreshInterval
      })
    }
    const retryInterval = yield* durationOption(MODULE, "retryInterval", opts.retryInterval, refreshInterval)
    const guard = Math.min(refreshInterval, (ttl - refreshInterval) / 2)
    return { prefix, ttl, refreshInterval, retryInterval, guard }
  })

/** @internal */
export const make = (options?: Options): Effect.Effect<Election.Election, InvalidOptionError, Redis.Redis> =>
  Effect.gen(function*() {
    const config = yield* validate(options)
    const redis = yield* Redis.Redis
    const acquire = redis.eval(acquireScript)
    const refresh = redis.eval(refreshScript)
    const release = redis.eval(releaseScript)
    const { guard, refreshInterval, retryInterval, ttl } = config
    const leading = new Map<string, number>()
    const campaigning = new Map<string, number>()
    let acquired = 0
    let lost = 0
    const bump = (map: Map<string, number>, key: string, by: number) => {
      const n = (map.get(key) ?? 0) + by
      if (n <= 0) map.delete(key)
      else map.set(key, n)
    }

    /** Tries until it holds the lease; returns the local time the winning attempt was sent. */
    const campaign = (redisKey: string, token: string): Effect.Effect<number> =>
      Effect.gen(function*() {
        while (true) {
          const sent = yield* Clock.currentTimeMillis
          const won = yield* acquire(redisKey, token, ttl).pipe(
            Effect.timeoutOption(retryInterval),
            Effect.map((o) => Option.getOrElse(o, () => 0)),
            Effect.catch(() => Effect.succeed(0))
          )
          if (won === 1) return sent
          yield* Effect.sleep(retryInterval)
        }
      })

    /** Returns (as a value) the LeaseLostError once the lease can no longer be trusted; never ends otherwise. */
    const watchdog = (key: string, redisKey: string, token: string, acquiredAt: number) =>
      Effect.gen(function*() {
        let expiresAt = acquiredAt + ttl
        let nextRefresh = acquiredAt + refreshInterval
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const stopAt = expiresAt - guard
          if (now >= stopAt) return new Election.LeaseLostError({ key, reason: "expiring" })
          if (now < nextRefresh) {
            yield* Effect.sleep(Math.min(nextRefresh, stopAt) - now)
            continue
          }
          const reply = yield* refresh(redisKey, token, ttl).pipe(
            Effect.timeoutOption(stopAt - now),
            Effect.catch(() => Effect.succeed(Option.none<number>()))
          )
          if (Option.isSome(reply) && reply.value === 1) {
            expiresAt = now + ttl
            nextRefresh = now + refreshInterval
          } else if (Option.isSome(reply)) {
            return new Election.LeaseLostError({ key, reason: "taken" })
          } else {
            nextRefresh = (yield* Clock.currentTimeMillis) + retryInterval
          }
        }
      })

    const withLeadership = <A, E, R>(
      key: string,
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | Election.LeaseLostError, R> => {
      const redisKey = config.prefix + key
      const token = SecureRandom.uuidV4Unsafe()
      const lead = Effect.gen(function*() {
        bump(campaigning, key, 1)
        const acquiredAt = yield* campaign(redisKey, token).pipe(
          Effect.ensuring(Effect.sync(() => bump(campaigning, key, -1)))
        )
        acquired++
        bump(leading, key, 1)
        return yield* Effect.gen(function*() {
          const job = yield* Effect.forkChild(effect, { startImmediately: true })
          const outcome = yield* Effect.raceFirst(Fiber.await(job), watchdog(key, redisKey, token, acquiredAt)).pipe(
            Effect.onInterrupt(() => Fiber.interrupt(job))
          )
          if (Exit.isExit(outcome)) return yield* outcome
          // the lease can no longer be trusted: stop the job (and wait for it) before it runs out
          yield* Fiber.interrupt(job)
          lost++
          yield* Effect.logWarning(`RedisElection: ${outcome.message}`)
          return yield* Effect.fail(outcome)
        }).pipe(Effect.ensuring(Effect.sync(() => bump(leading, key, -1))))
      })
      // released in every case (also when interrupted while campaigning: a SET whose reply never came)
      return lead.pipe(
        Effect.ensuring(release(redisKey, token).pipe(Effect.timeoutOption(refreshInterval), Effect.ignore))
      )
    }

    return {
      withLeadership,
      stats: Effect.sync(() => ({
        backend: "redis",
        leading: [...leading.keys()],
        campaigning: [...campaigning.keys()],
        acquired,
        lost
      }))
    } satisfies Election.Election
  })

/** @internal */
export const layer = (options?: Options): Layer.Layer<never, InvalidOptionError, Redis.Redis> =>
  Layer.effect(Election.Election, make(options))
