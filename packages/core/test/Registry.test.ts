import {
  Barrier,
  Bulkhead,
  Condition,
  KeyedMutex,
  Limiter,
  Mutex,
  Registry,
  RWLock,
  TaskGroup,
  WorkerPool,
  WorkQueue
} from "@async-ops/core"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Scope } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { start } from "./support.ts"

/** Runs `effect` with a registry of its own and returns that registry too. */
const isolated = <A, E, R>(f: (registry: Registry.Registry) => Effect.Effect<A, E, R>) => {
  const registry = Registry.makeUnsafe()
  return Effect.provideService(f(registry), Registry.Registry, registry)
}

/** A full garbage collection (V8's `gc`, switched on for this process). */
const collectGarbage = (): void => {
  setFlagsFromString("--expose-gc")
  const gc = runInNewContext("gc") as () => void
  gc()
}

describe("Registry", () => {
  it.effect("every named primitive is listed with its kind, name and stats; unnamed ones are not", () =>
    isolated((registry) =>
      Effect.gen(function*() {
        const limiter = yield* Limiter.make({ limit: 3, name: "db" })
        yield* Limiter.make({ limit: 3 })
        const keyed = yield* Limiter.keyed<string>({ perKey: 2, global: 5, name: "hosts" })
        const adaptive = yield* Limiter.adaptive({ algorithm: "aimd", initial: 4, name: "api" })
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueued: 1, name: "payments" })
        const queue = yield* WorkQueue.make<number>({ capacity: 10, name: "jobs" })
        const mutex = Mutex.makeUnsafe({ name: "m1" })
        const mutex2 = yield* Mutex.makeWith({ name: "m2" })
        const rw = RWLock.makeUnsafe({ name: "rw" })
        const km = KeyedMutex.makeUnsafe<string>({ name: "km" })
        const cond = yield* Condition.make({ name: "cond" })
        const barrier = yield* Barrier.make(2, { name: "bar" })
        yield* queue.offer(1)
        yield* queue.offer(2)
        const release = yield* Deferred.make<void>()
        const held = yield* start(keyed.withPermit("a.example", Deferred.await(release)))
        const entries = yield* registry.snapshot
        expect(entries.map((e) => `${e.kind}/${e.name}`)).toEqual([
          "Limiter/db",
          "KeyedLimiter/hosts",
          "AdaptiveLimiter/api",
          "Bulkhead/payments",
          "WorkQueue/jobs",
          "Mutex/m2",
          "Condition/cond",
          "Barrier/bar"
        ])
        expect(entries[0]!.stats).toMatchObject({ limit: 3, inFlight: 0 })
        expect(entries[1]!.stats).toMatchObject({
          inFlight: 1,
          perKey: 2,
          perKeys: [{ key: "a.example", inFlight: 1, waiting: 0 }]
        })
        expect(entries[2]!.stats).toMatchObject({ algorithm: "aimd", limit: 4 })
        expect(entries[4]!.stats).toMatchObject({ size: 2, unfinished: 2 })
        // synchronous constructors have no context: they register with the process-wide registry
        const global = yield* Registry.snapshot.pipe(
          Effect.provideService(Registry.Registry, Registry.Registry.defaultValue())
        )
        expect(global.map((e) => `${e.kind}/${e.name}`)).toEqual(["Mutex/m1", "RWLock/rw", "KeyedMutex/km"])
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(held)
        // keep them reachable until here
        expect([limiter, adaptive, bulkhead, mutex, mutex2, rw, km, cond, barrier].length).toBe(9)
      })
    ))

  it.effect("a task group is listed while it runs and leaves when it ends", () =>
    isolated((registry) =>
      Effect.gen(function*() {
        const during = yield* TaskGroup.scoped(() => registry.snapshot, { name: "crawl" })
        expect(during.map((e) => `${e.kind}/${e.name}:${e.stats.state}`)).toEqual(["TaskGroup/crawl:open"])
        expect(yield* registry.snapshot).toEqual([])
        expect(registry.size).toBe(0)
      })
    ))

  it.effect("a worker pool leaves when its scope closes; a registered source when its scope closes", () =>
    isolated((registry) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        yield* WorkerPool.make<number>({ workers: 2, capacity: 8, name: "pool", handler: () => Effect.void }).pipe(
          Scope.provide(scope)
        )
        yield* Registry.register({ kind: "Cache", name: "users", stats: Effect.succeed({ size: 7 }) }).pipe(
          Scope.provide(scope)
        )
        const open = yield* registry.snapshot
        expect(open.map((e) => `${e.kind}/${e.name}`)).toEqual(["WorkerPool/pool", "Cache/users"])
        expect(open[1]!.stats).toEqual({ size: 7 })
        yield* Scope.close(scope, Effect.void as never)
        expect(yield* registry.snapshot).toEqual([])
        expect(registry.size).toBe(0)
      })
    ))

  it.effect(
    "no leak with 100,000 short-lived named task groups: the registry is empty once they ended",
    () =>
      isolated((registry) =>
        Effect.gen(function*() {
          yield* Effect.forEach(
            Array.from({ length: 100_000 }, (_, i) => i),
            (i) => TaskGroup.scoped((group) => group.spawn(Effect.void), { name: `g${i}` }),
            { discard: true }
          )
          expect(yield* registry.snapshot).toEqual([])
          expect(registry.size).toBe(0)
        })
      ),
    120_000
  )

  it.live(
    "no leak with 100,000 named limiters made without a scope: entries go with their limiters",
    () =>
      Effect.gen(function*() {
        const registry = Registry.makeUnsafe()
        yield* Effect.forEach(
          Array.from({ length: 100_000 }, (_, i) => i),
          (i) => Limiter.make({ limit: 1, name: `l${i}` }),
          { discard: true }
        ).pipe(Effect.provideService(Registry.Registry, registry))
        const kept = yield* Limiter.make({ limit: 1, name: "kept" }).pipe(
          Effect.provideService(Registry.Registry, registry)
        )
        // WeakRefs made in this job stay alive until it ends: collect on a later turn
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        collectGarbage()
        const entries = yield* registry.snapshot
        expect(entries.map((e) => e.name)).toEqual(["kept"])
        expect(registry.size).toBe(1)
        expect(kept.name).toBe("kept")
      }),
    120_000
  )
})
