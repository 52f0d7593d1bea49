import { DurableWorkerPool, RedisConnection } from "@async-ops/redis"
import { RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Schema } from "effect"
import * as Redis from "effect/persistence/Redis"
import { fixture, spawnNode } from "./support/processes.ts"

const ITEMS = 10_000
const PROCESSES = 3
const WORKERS = 4
const ITEM_MILLIS = 2
/** The victim's items take longer, so that it holds items whenever it is killed. */
const VICTIM_ITEM_MILLIS = 200
const MAX_ATTEMPTS = 3
const FAIL_EVERY = 500
const FAIL_AT = 13
/** How long a dead worker's claims stay locked before the store hands them out again. */
const LOCK_EXPIRATION = 2_000

const failing = (n: number) => n % FAIL_EVERY === FAIL_AT
const Item = Schema.Struct({ n: Schema.Number })

/** Polls `check` until it is true (a real-process condition; each poll is one Redis round trip). */
const until = (check: Effect.Effect<boolean, unknown, Redis.Redis>) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep("100 millis")
  })

describe.skipIf(!RedisServer.available())("DurableWorkerPool across processes (real redis-server)", () => {
  it.live(
    "3 worker processes, 10,000 items, one killed with kill -9 mid-run: every item processed, duplicates only from the killed worker's in-flight items, failing items in the dead letters after their attempts",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        return yield* run(server).pipe(
          Effect.provide(
            DurableWorkerPool.layerRedis().pipe(Layer.provideMerge(RedisConnection.layer({ url: server.url }))),
            { local: true }
          )
        )
      }).pipe(Effect.scoped),
    180_000
  )
})

const run = (server: RedisServer.RedisServer) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const count = (command: string, key: string) => redis.send<number>(command, key)
    const workers = yield* Effect.forEach(Array.from({ length: PROCESSES }), (_, i) =>
      spawnNode(fixture("queue-worker.ts"), [
        server.url,
        String(WORKERS),
        String(i === 0 ? VICTIM_ITEM_MILLIS : ITEM_MILLIS),
        String(MAX_ATTEMPTS),
        String(FAIL_EVERY),
        String(FAIL_AT),
        String(LOCK_EXPIRATION)
      ]))
    yield* Effect.forEach(workers, (w) =>
      w.awaitLine((l) =>
        l === "ready"
      ), { concurrency: "unbounded" })

    // submitted from this process, processed in the others
    const producer = yield* DurableWorkerPool.producer({ name: "items", schema: Item })
    yield* Effect.forEach(Array.from({ length: ITEMS }, (_, n) => n), (n) => producer.submit({ n }), {
      concurrency: 32,
      discard: true
    })

    const failures = Array.from({ length: ITEMS }, (_, n) => n).filter(failing)
    yield* until(Effect.map(count("HLEN", "processed"), (n) => n >= ITEMS / 4))
    const victim = workers[0]!
    // kill it while it holds items (its items are slow, so it nearly always does)
    yield* until(Effect.map(redis.send<Array<string>>("SMEMBERS", `inflight:${victim.pid}`), (s) => s.length > 0))
    yield* victim.kill("SIGKILL")
    expect(yield* Deferred.await(victim.exited)).toBe("SIGKILL")
    const heldAtKill = (yield* redis.send<Array<string>>("SMEMBERS", `inflight:${victim.pid}`)).map(Number)
    // it was mid-run: it held items when it died
    expect(heldAtKill.length).toBeGreaterThan(0)
    expect(heldAtKill.length).toBeLessThanOrEqual(WORKERS)

    yield* until(Effect.map(count("HLEN", "processed"), (n) => n === ITEMS - failures.length))
    yield* until(Effect.map(count("LLEN", "effectq:items:failed"), (n) => n === failures.length))

    // HGETALL answers a flat array or a map, depending on the protocol version
    const processed = yield* redis.send<Array<string> | Record<string, string>>("HGETALL", "processed")
    const pairs = Array.isArray(processed)
      ? Array.from({ length: processed.length / 2 }, (_, i) => [processed[2 * i]!, processed[2 * i + 1]!] as const)
      : Object.entries(processed)
    const times = new Map(pairs.map(([n, k]) => [Number(n), Number(k)]))
    for (let n = 0; n < ITEMS; n++) expect(times.has(n)).toBe(!failing(n))
    for (const n of heldAtKill) if (!failing(n)) expect(times.get(n)).toBeGreaterThanOrEqual(1)

    // an item processed twice was processed once by the killed worker, and there are at most as many as it
    // could hold (its workers)
    const twice = [...times].filter(([, k]) => k > 1).map(([n]) => n)
    expect(twice.length).toBeLessThanOrEqual(WORKERS)
    const log = yield* redis.send<Array<string>>("LRANGE", "log", "0", "-1")
    const byVictim = new Set(log.filter((l) => l.startsWith(`${victim.pid}:`)).map((l) => Number(l.split(":")[1])))
    for (const n of twice) {
      expect(times.get(n)).toBe(2)
      expect(byVictim.has(n)).toBe(true)
    }

    // the dead letters: each failing item once, after its attempts
    const letters = yield* DurableWorkerPool.deadLetters({ name: "items", schema: Item, limit: ITEMS })
    expect(letters.map((l) => l.item.n).toSorted((a, b) => a - b)).toEqual(failures)
    for (const letter of letters) {
      expect(letter.attempts).toBe(MAX_ATTEMPTS)
      expect(letter.lastFailure).toContain("Refused")
    }

    // graceful close of the survivors: nothing left claimed
    yield* Effect.forEach(workers.slice(1), (w) => w.kill("SIGTERM"), { discard: true })
    for (const w of workers.slice(1)) expect(yield* Deferred.await(w.exited)).toBe(130)
    expect(yield* count("HLEN", "effectq:items:pending")).toBe(0)
    expect(yield* count("LLEN", "effectq:items")).toBe(0)
  })
