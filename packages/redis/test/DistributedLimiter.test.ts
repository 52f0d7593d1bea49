import { Election } from "@async-ops/core"
import { DistributedLimiter, RedisConnection } from "@async-ops/redis"
import { ConcurrencyProbe, RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Ref } from "effect"
import * as Redis from "effect/persistence/Redis"

/** A fresh connection (a "process") to `server`; each gets its own client and subscription. */
const connect = (server: RedisServer.RedisServer) =>
  Layer.build(Layer.fresh(RedisConnection.layer({ url: server.url })))

/** Runs `f` with a limiter made on its own connection. */
const limiterOn = (server: RedisServer.RedisServer, options: DistributedLimiter.Options) =>
  Effect.flatMap(connect(server), (context) => DistributedLimiter.make(options).pipe(Effect.provide(context)))

const keyedOn = (server: RedisServer.RedisServer, options: DistributedLimiter.KeyedOptions) =>
  Effect.flatMap(connect(server), (context) => DistributedLimiter.keyed(options).pipe(Effect.provide(context)))

const awaitStats = <S>(stats: Effect.Effect<S>, done: (s: S) => boolean) =>
  Effect.gen(function*() {
    while (!done(yield* stats)) yield* Effect.sleep("5 millis")
  })

const live = { timeout: 120_000 }

/** A Redis service that dies when used: option validation must fail before any command. */
const NoRedis = Layer.succeed(
  Redis.Redis,
  new Proxy({}, {
    get: () => {
      throw new Error("Redis used")
    }
  }) as never
)

describe("DistributedLimiter (options)", () => {
  it.effect("bad options fail with InvalidOptionError naming the option, before touching Redis", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[DistributedLimiter.Options, string]> = [
        [{ name: "a", limit: 0 }, "limit"],
        [{ name: "a", limit: 1.5 }, "limit"],
        [{ name: "", limit: 1 }, "name"],
        [{ name: "a{b}", limit: 1 }, "name"],
        [{ name: "a", limit: 1, ttl: "1 second", refreshInterval: "1 second" }, "refreshInterval"],
        [{ name: "a", limit: 1, ttl: "1 second", refreshInterval: "2 seconds" }, "refreshInterval"],
        [{ name: "a", limit: 1, ttl: Number.NaN }, "ttl"],
        [{ name: "a", limit: 1, ttl: "1 second", recheckInterval: "1 second" }, "recheckInterval"]
      ]
      for (const [options, option] of cases) {
        const error = yield* Effect.flip(Effect.scoped(DistributedLimiter.make(options)).pipe(Effect.provide(NoRedis)))
        expect(error._tag).toBe("InvalidOptionError")
        expect((error as { option: string }).option).toBe(option)
      }
      const keyedError = yield* Effect.flip(
        Effect.scoped(DistributedLimiter.keyed({ name: "k", perKey: 2, global: 0 })).pipe(Effect.provide(NoRedis))
      )
      expect((keyedError as { option: string }).option).toBe("global")
    }))
})

describe.skipIf(!RedisServer.available())("DistributedLimiter (real redis-server)", () => {
  it.live("two connections share one limit: the peak is the limit, never above", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const a = yield* limiterOn(server, { name: "shared", limit: 3 })
      const b = yield* limiterOn(server, { name: "shared", limit: 3 })
      const probe = yield* ConcurrencyProbe.make
      yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => (i % 2 === 0 ? a : b).withPermit(probe.track(Effect.sleep("5 millis"))),
        { concurrency: "unbounded", discard: true }
      )
      const stats = yield* probe.stats
      expect(stats.peak).toBe(3)
      expect(stats.ended).toBe(40)
      const sa = yield* a.stats
      const sb = yield* b.stats
      expect(sa.acquired + sb.acquired).toBe(40)
      expect(sa).toMatchObject({ fleet: true, inFlight: 0, waiting: 0, limit: 3, local: { inFlight: 0, waiting: 0 } })
      expect(yield* server.command("KEYS", "*limiter*:h")).toEqual([])
    }).pipe(Effect.scoped), live.timeout)

  it.live("waiters are admitted in arrival order across connections", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const limiters = [
        yield* limiterOn(server, { name: "fifo", limit: 1 }),
        yield* limiterOn(server, { name: "fifo", limit: 1 }),
        yield* limiterOn(server, { name: "fifo", limit: 1 })
      ]
      const release = yield* Deferred.make<void>()
      const order = yield* Ref.make<Array<number>>([])
      const holder = yield* Effect.forkChild(limiters[0]!.withPermit(Deferred.await(release)), {
        startImmediately: true
      })
      yield* awaitStats(limiters[0]!.stats, (s) => s.inFlight === 1)
      const fibers: Array<Fiber.Fiber<void, unknown>> = []
      for (let i = 0; i < 6; i++) {
        fibers.push(
          yield* Effect.forkChild(limiters[i % 3]!.withPermit(Ref.update(order, (o) => [...o, i])), {
            startImmediately: true
          })
        )
        yield* awaitStats(limiters[0]!.stats, (s) => s.waiting === i + 1)
      }
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      for (const f of fibers) yield* Fiber.join(f)
      expect(yield* Ref.get(order)).toEqual([0, 1, 2, 3, 4, 5])
    }).pipe(Effect.scoped), live.timeout)

  it.live("withPermitIfAvailable runs only when a lease is free and nobody waits", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const limiter = yield* limiterOn(server, { name: "try", limit: 1 })
      expect(yield* limiter.withPermitIfAvailable(Effect.succeed(1))).toEqual(Option.some(1))
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(limiter.withPermit(Deferred.await(release)), { startImmediately: true })
      yield* awaitStats(limiter.stats, (s) => s.inFlight === 1)
      expect(yield* limiter.withPermitIfAvailable(Effect.succeed(2))).toEqual(Option.none())
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect((yield* limiter.stats).rejected).toBe(1)
    }).pipe(Effect.scoped), live.timeout)

  it.live("an interrupted waiter leaves the queue and the next one is admitted", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const limiter = yield* limiterOn(server, { name: "interrupt", limit: 1 })
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(limiter.withPermit(Deferred.await(release)), { startImmediately: true })
      yield* awaitStats(limiter.stats, (s) => s.inFlight === 1)
      const first = yield* Effect.forkChild(limiter.withPermit(Effect.succeed("first")), { startImmediately: true })
      yield* awaitStats(limiter.stats, (s) => s.waiting === 1)
      const second = yield* Effect.forkChild(limiter.withPermit(Effect.succeed("second")), { startImmediately: true })
      yield* awaitStats(limiter.stats, (s) => s.waiting === 2)
      yield* Fiber.interrupt(first)
      yield* awaitStats(limiter.stats, (s) => s.waiting === 1)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect(yield* Fiber.join(second)).toBe("second")
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0 })
    }).pipe(Effect.scoped), live.timeout)

  it.live(
    "a waiter whose wake-up message never comes is admitted by its bounded re-check",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const limiter = yield* limiterOn(server, { name: "recheck", limit: 1, recheckInterval: "200 millis" })
        const release = yield* Deferred.make<void>()
        const holder = yield* Effect.forkChild(limiter.withPermit(Deferred.await(release)), { startImmediately: true })
        yield* awaitStats(limiter.stats, (s) => s.inFlight === 1)
        const waiter = yield* Effect.forkChild(limiter.withPermit(Effect.succeed("in")), { startImmediately: true })
        yield* awaitStats(limiter.stats, (s) => s.waiting === 1)
        // Remove the holder's lease behind the limiter's back: no release script, so no message is published.
        const [lease] = (yield* server.command("ZRANGE", "async-ops:limiter:{recheck}:h", "0", "-1")) as Array<string>
        yield* server.command("ZREM", "async-ops:limiter:{recheck}:h", lease!)
        yield* server.command("ZREM", "async-ops:limiter:{recheck}:k:", lease!)
        expect(yield* Fiber.join(waiter)).toBe("in")
        yield* Deferred.succeed(release, undefined)
        // The holder's refresh now finds its lease gone.
        const exit = yield* Fiber.await(holder)
        expect(Exit.isSuccess(exit) || String(exit.cause).includes("LeaseLostError")).toBe(true)
      }).pipe(Effect.scoped),
    live.timeout
  )

  it.live(
    "a holder whose lease disappears (Redis flushed) is interrupted with LeaseLostError expired",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const limiter = yield* limiterOn(server, {
          name: "flushed",
          limit: 2,
          ttl: "3 seconds",
          refreshInterval: "300 millis"
        })
        const interrupted = yield* Deferred.make<void>()
        const started = yield* Deferred.make<void>()
        const holder = yield* Effect.forkChild(
          limiter.withPermit(
            Deferred.succeed(started, undefined).pipe(
              Effect.andThen(Effect.never),
              Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
            )
          ),
          { startImmediately: true }
        )
        yield* Deferred.await(started)
        yield* server.flush
        const error = yield* Effect.flip(Fiber.join(holder))
        expect(error).toMatchObject({ _tag: "LeaseLostError", limiter: "flushed", reason: "expired" })
        // One class for elections and limiters: core's guard (and an election's catchTag) recognises it.
        expect(error).toBeInstanceOf(Election.LeaseLostError)
        expect(Election.isLeaseLostError(error)).toBe(true)
        expect(yield* Deferred.isDone(interrupted)).toBe(true)
        expect((yield* limiter.stats).leasesLost).toBe(1)
      }).pipe(Effect.scoped),
    live.timeout
  )

  it.live(
    "Redis paused 5 s: holders stop with LeaseLostError before their leases expire; admissions fail typed in time",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const ttl = 4000
        const limiter = yield* limiterOn(server, {
          name: "paused",
          limit: 3,
          ttl,
          refreshInterval: 500,
          commandTimeout: 500
        })
        const started = yield* Deferred.make<void>()
        const holders = yield* Effect.forEach(
          [0, 1],
          () =>
            Effect.forkChild(
              limiter.withPermit(Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))),
              { startImmediately: true }
            )
        )
        yield* awaitStats(limiter.stats, (s) => s.inFlight === 2)
        const scores =
          (yield* server.command("ZRANGE", "async-ops:limiter:{paused}:h", "0", "-1", "WITHSCORES")) as Array<
            string
          >
        const expiries = scores.filter((_, i) => i % 2 === 1).map(Number)
        yield* server.pause
        const pausedAt = Date.now()
        // A new admission fails typed within its commandTimeout (plus scheduling slack), not at the end of the pause.
        const admission = yield* Effect.flip(limiter.withPermit(Effect.void))
        expect(admission._tag).toBe("RedisUnavailableError")
        expect(Date.now() - pausedAt).toBeLessThan(3000)
        for (const holder of holders) {
          const error = yield* Effect.flip(Fiber.join(holder))
          const at = Date.now()
          expect(error).toMatchObject({ _tag: "LeaseLostError", reason: "expiring" })
          // Before the lease runs out in Redis (Redis' clock is this machine's clock).
          expect(at).toBeLessThan(Math.min(...expiries))
        }
        // A 5 second partition, then Redis is back: the limit works again without a new limiter.
        yield* Effect.sleep(Math.max(0, pausedAt + 5000 - Date.now()))
        yield* server.resume
        expect(yield* limiter.withPermit(Effect.succeed("again"))).toBe("again")
      }).pipe(Effect.scoped),
    live.timeout
  )

  it.live(
    "Redis restarted under load: typed errors, no call past its deadline, and the limit holds again after",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const limit = 3
        const limiter = yield* limiterOn(server, {
          name: "restart",
          limit,
          ttl: 3000,
          refreshInterval: 500,
          commandTimeout: 1000
        })
        const failures = yield* Ref.make<Array<string>>([])
        const probe = yield* ConcurrencyProbe.make
        const stop = yield* Deferred.make<void>()
        // 8 callers loop until told to stop; each call has a 5 s deadline, which must never be the thing that ends it.
        const call = limiter.withPermit(probe.track(Effect.sleep("10 millis"))).pipe(
          Effect.timeout("5 seconds"),
          // A caller that sees an error backs off a little, as a real client would.
          Effect.catch((e) =>
            Ref.update(failures, (f) => [...f, e._tag]).pipe(Effect.andThen(Effect.sleep("50 millis")))
          )
        )
        const callers = yield* Effect.forEach(
          Array.from({ length: 8 }),
          () =>
            Effect.forkChild(
              Effect.gen(function*() {
                while (!(yield* Deferred.isDone(stop))) yield* call
              }),
              { startImmediately: true }
            )
        )
        yield* probe.awaitEnded(20)
        yield* server.stop
        yield* Effect.sleep("500 millis")
        yield* server.restart
        // Wait until calls succeed again (the client reconnects by itself), then measure the cap afresh.
        const before = (yield* probe.stats).ended
        yield* probe.awaitEnded(before + 20).pipe(Effect.timeout("30 seconds"))
        const after = yield* ConcurrencyProbe.make
        yield* Effect.forEach(
          Array.from({ length: 30 }),
          () => limiter.withPermit(after.track(Effect.sleep("10 millis"))),
          { concurrency: "unbounded", discard: true }
        )
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.joinAll(callers)
        const seen = new Set(yield* Ref.get(failures))
        expect(seen.size).toBeGreaterThan(0)
        for (const tag of seen) expect(["RedisUnavailableError", "LeaseLostError"]).toContain(tag)
        expect((yield* after.stats).peak).toBe(limit)
        expect((yield* probe.stats).peak).toBeLessThanOrEqual(limit)
      }).pipe(Effect.scoped),
    live.timeout
  )

  it.live(
    "keyed: at most perKey per key and global overall, across connections, and stats per key",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const a = yield* keyedOn(server, { name: "hosts", perKey: 2, global: 3 })
        const b = yield* keyedOn(server, { name: "hosts", perKey: 2, global: 3 })
        const all = yield* ConcurrencyProbe.make
        const perKey = { x: yield* ConcurrencyProbe.make, y: yield* ConcurrencyProbe.make }
        const release = yield* Deferred.make<void>()
        const fibers = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => {
            const key = i % 3 === 0 ? "y" : "x"
            return Effect.forkChild(
              (i % 2 === 0 ? a : b).withPermit(
                key,
                all.track(perKey[key].track(Deferred.await(release).pipe(Effect.andThen(Effect.sleep("5 millis")))))
              ),
              { startImmediately: true }
            )
          }
        )
        yield* awaitStats(a.stats, (s) => s.inFlight === 3 && s.waiting === 9)
        const stats = yield* a.stats
        expect(stats.keys).toBe(2)
        expect(stats.byKey["x"]!.holders + stats.byKey["y"]!.holders).toBe(3)
        expect(stats.byKey["x"]!.holders).toBeLessThanOrEqual(2)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.joinAll(fibers)
        expect((yield* all.stats).peak).toBe(3)
        expect((yield* perKey.x.stats).peak).toBe(2)
        expect((yield* perKey.y.stats).peak).toBeLessThanOrEqual(2)
        expect(yield* a.stats).toMatchObject({ inFlight: 0, waiting: 0, keys: 0 })
      }).pipe(Effect.scoped),
    live.timeout
  )

  it.live("an uncontended withPermit costs two Redis round trips (INFO commandstats)", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const limiter = yield* limiterOn(server, { name: "trips", limit: 4 })
      yield* limiter.withPermit(Effect.void) // warm up: the scripts are loaded once per connection
      yield* server.command("CONFIG", "RESETSTAT")
      const n = 50
      for (let i = 0; i < n; i++) yield* limiter.withPermit(Effect.void)
      const info = (yield* server.command("INFO", "commandstats")) as string
      const counts = Object.fromEntries(
        Array.from(info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm), ([, command, count]) => [command, Number(count)])
      )
      // INFO counts the commands a script runs too; those are the Lua's own (all atomic inside one EVALSHA).
      const insideScripts = new Set([
        "time",
        "zrangebyscore",
        "zscore",
        "zrank",
        "zcard",
        "zadd",
        "zrem",
        "zrange",
        "hset",
        "hdel",
        "hget",
        "incr",
        "publish"
      ])
      const sentByClient = Object.keys(counts).filter((c) =>
        !insideScripts.has(c) && c !== "info" && c !== "config|resetstat"
      )
      expect(sentByClient).toEqual(["evalsha"])
      expect(counts["evalsha"]).toBe(2 * n)
    }).pipe(Effect.scoped), live.timeout)

  it.live("Redis unreachable when the limiter starts: RedisUnavailableError, no hang", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const context = yield* connect(server)
      yield* server.pause
      const error = yield* Effect.flip(
        DistributedLimiter.make({ name: "start", limit: 1, commandTimeout: 300 }).pipe(Effect.provide(context))
      )
      expect(error._tag).toBe("RedisUnavailableError")
      yield* server.resume
    }).pipe(Effect.scoped), live.timeout)
})
