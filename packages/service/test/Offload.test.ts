import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Metrics from "@async-ops/core/Metrics"
import * as Offload from "@async-ops/service/Offload"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric, Ref, Scope } from "effect"

/** The task module, as a `data:` URL: plain JavaScript the workers import. */
const source = `
export const fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2)
export const add = (a, b) => a + b
export const later = async (x) => { await new Promise((r) => setTimeout(r, 5)); return x * 2 }
export const boom = (message) => { throw new RangeError(message) }
export const rejects = async (message) => { throw new Error(message) }
export const uncloneable = () => () => 1
export const crash = () => process.exit(3)
/** Busy for \`millis\` of wall time: a CPU-bound call. */
export const spinFor = (millis) => { const end = Date.now() + millis; let n = 0; while (Date.now() < end) n++; return n > 0 }
/** Signals through shared memory that it started, then loops forever. */
export const spinForever = (flag) => { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); for (;;) {} }
export const notAFunction = 42
`
const module = new URL(`data:text/javascript,${encodeURIComponent(source)}`)

interface Tasks {
  readonly fib: (n: number) => number
  readonly add: (a: number, b: number) => number
  readonly later: (x: number) => Promise<number>
  readonly boom: (message: string) => never
  readonly rejects: (message: string) => Promise<never>
  readonly uncloneable: () => () => number
  readonly crash: () => never
  readonly spinFor: (millis: number) => boolean
  readonly spinForever: (flag: Int32Array) => never
  readonly notAFunction: number
}

/** `Atomics.waitAsync` (ES2024; the project's lib is ES2023). */
const waitAsync = (Atomics as unknown as {
  readonly waitAsync: (array: Int32Array, index: number, value: number) => { readonly value: unknown }
}).waitAsync

/** Resolves once the worker stored 1 at index 0 (an event, not a poll). */
const started = (flag: Int32Array) => Effect.promise(() => Promise.resolve(waitAsync(flag, 0, 0).value))

describe("Offload", () => {
  it.live("returns the functions' results, sync or async, in parallel on several threads", () =>
    Effect.gen(function*() {
      const pool = yield* Offload.make<Tasks>({ module, size: 2 })
      const results = yield* Effect.all([pool.call("fib", 20), pool.call("add", 2, 3), pool.call("later", 21)], {
        concurrency: "unbounded"
      })
      expect(results).toEqual([6765, 5, 42])
      expect(yield* pool.stats).toMatchObject({ size: 2, threads: 2, busy: 0, queued: 0, completed: 3, failed: 0 })
    }))

  it.live("the event loop stays responsive while a CPU-bound call runs on a worker", () =>
    Effect.gen(function*() {
      const pool = yield* Offload.make<Tasks>({ module, size: 1 })
      const ticks = yield* Ref.make(0)
      const heartbeat = yield* Effect.forkChild(
        Effect.forever(Effect.sleep(10).pipe(Effect.andThen(Ref.update(ticks, (n) => n + 1)))),
        { startImmediately: true }
      )
      expect(yield* pool.call("spinFor", 400)).toBe(true)
      yield* Fiber.interrupt(heartbeat)
      // 400 ms of CPU on the worker: the main thread kept ticking (tens of ticks); a blocked loop would show 0
      expect(yield* Ref.get(ticks)).toBeGreaterThan(5)
    }))

  it.live("a throwing or rejecting function fails with WorkerError carrying its name, message and stack", () =>
    Effect.gen(function*() {
      const pool = yield* Offload.make<Tasks>({ module, size: 1 })
      const thrown = yield* Effect.flip(pool.call("boom", "bad input"))
      expect(thrown).toBeInstanceOf(Offload.WorkerError)
      expect(thrown).toMatchObject({
        _tag: "WorkerError",
        function: "boom",
        errorName: "RangeError",
        message: "bad input"
      })
      expect((thrown as Offload.WorkerError).workerStack).toContain("RangeError: bad input")
      const rejected = yield* Effect.flip(pool.call("rejects", "nope"))
      expect(rejected).toMatchObject({ _tag: "WorkerError", function: "rejects", errorName: "Error", message: "nope" })
      const missing = yield* Effect.flip(pool.call("missing" as never))
      expect(missing).toMatchObject({ _tag: "WorkerError", errorName: "TypeError" })
      expect(missing.message).toContain("has no exported function named \"missing\"")
      const notFn = yield* Effect.flip(pool.call("notAFunction" as never))
      expect(notFn).toMatchObject({ _tag: "WorkerError", errorName: "TypeError" })
      const badResult = yield* Effect.flip(pool.call("uncloneable"))
      expect(badResult).toMatchObject({ _tag: "WorkerError", errorName: "DataCloneError" })
      const badArgs = yield* Effect.flip(pool.call("add", (() => 1) as never, 2))
      expect(badArgs).toMatchObject({ _tag: "WorkerError", errorName: "DataCloneError" })
      // the worker survived all of that
      expect(yield* pool.call("add", 1, 1)).toBe(2)
      expect(yield* pool.stats).toMatchObject({ threads: 1, completed: 1, failed: 6, replaced: 0 })
    }))

  it.live("a worker that dies fails its call with WorkerCrashedError and is replaced", () =>
    Effect.gen(function*() {
      const pool = yield* Offload.make<Tasks>({ module, size: 1, name: "crashy" })
      const error = yield* Effect.flip(pool.call("crash"))
      expect(error).toEqual(
        new Offload.WorkerCrashedError({ name: "crashy", function: "crash", reason: "exited with code 3" })
      )
      expect(yield* pool.call("add", 20, 22)).toBe(42)
      expect(yield* pool.stats).toMatchObject({ completed: 1, failed: 1, replaced: 1, threads: 1 })
    }))

  it.live("interrupting a busy call terminates its worker, and the pool replaces it", () =>
    Effect.gen(function*() {
      const pool = yield* Offload.make<Tasks>({ module, size: 1 })
      const flag = new Int32Array(new SharedArrayBuffer(4))
      const call = yield* Effect.forkChild(pool.call("spinForever", flag), { startImmediately: true })
      yield* started(flag)
      expect(yield* pool.stats).toMatchObject({ busy: 1, threads: 1 })
      yield* Fiber.interrupt(call)
      expect((yield* Fiber.await(call))._tag).toBe("Failure")
      // the interrupt returned after the thread exited
      expect(yield* pool.stats).toMatchObject({ busy: 0, threads: 0, replaced: 1 })
      expect(yield* pool.call("fib", 10)).toBe(55)
      expect(yield* pool.stats).toMatchObject({ threads: 1, completed: 1, replaced: 1 })
    }))

  it.live("calls beyond the workers wait in FIFO order; an interrupted queued call leaves the queue", () =>
    Effect.gen(function*() {
      const pool = yield* Offload.make<Tasks>({ module, size: 1, maxQueued: 2 })
      const flag = new Int32Array(new SharedArrayBuffer(4))
      const busy = yield* Effect.forkChild(pool.call("spinForever", flag), { startImmediately: true })
      yield* started(flag)
      const first = yield* Effect.forkChild(pool.call("add", 1, 2), { startImmediately: true })
      const second = yield* Effect.forkChild(pool.call("add", 3, 4), { startImmediately: true })
      expect((yield* pool.stats).queued).toBe(2)
      const rejected = yield* Effect.flip(pool.call("add", 5, 6))
      expect(rejected).toEqual(
        new Offload.OffloadRejectedError({ name: "offload", reason: "queue-full", maxQueued: 2 })
      )
      yield* Fiber.interrupt(first)
      expect((yield* pool.stats).queued).toBe(1)
      yield* Fiber.interrupt(busy)
      expect(yield* Fiber.join(second)).toBe(7)
      expect(yield* pool.stats).toMatchObject({ completed: 1, rejected: 1, replaced: 1, queued: 0 })
    }))

  it.live("closing the scope terminates every worker, busy ones included, and rejects later calls", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Offload.make<Tasks>({ module, size: 3 }).pipe(Scope.provide(scope))
      const flag = new Int32Array(new SharedArrayBuffer(4))
      const busy = yield* Effect.forkChild(pool.call("spinForever", flag), { startImmediately: true })
      yield* started(flag)
      expect(yield* Effect.all([pool.call("add", 1, 2), pool.call("add", 3, 4)], { concurrency: 2 })).toEqual([3, 7])
      expect((yield* pool.stats).threads).toBe(3)
      yield* Scope.close(scope, Exit.void)
      // every thread has exited (the close awaited worker.terminate())
      expect(yield* pool.stats).toMatchObject({ threads: 0, busy: 0 })
      expect(yield* Fiber.join(busy).pipe(Effect.flip)).toMatchObject({
        _tag: "WorkerCrashedError",
        reason: "pool closed"
      })
      const after = yield* Effect.flip(pool.call("add", 1, 1))
      expect(after).toMatchObject({ _tag: "OffloadRejectedError", reason: "closed" })
    }))

  it.live("with metrics on, reports busy workers, queued calls, admissions, rejections, wait time and replacements", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "Offload", name: "metered" }
      const read = <S>(metric: Metric.Metric<number, S>) => Metric.value(Metric.withAttributes(metric, attrs))
      const pool = yield* Offload.make<Tasks>({ module, size: 1, maxQueued: 1, name: "metered", metrics: true })
      expect((yield* read(Metrics.limit)).value).toBe(1)
      expect((yield* read(Metrics.inFlight)).value).toBe(0)
      const flag = new Int32Array(new SharedArrayBuffer(4))
      const busy = yield* Effect.forkChild(pool.call("spinForever", flag), { startImmediately: true })
      yield* started(flag)
      const queued = yield* Effect.forkChild(pool.call("add", 1, 2), { startImmediately: true })
      expect((yield* read(Metrics.inFlight)).value).toBe(1)
      expect((yield* read(Metrics.waiting)).value).toBe(1)
      expect((yield* read(Metrics.acquired)).count).toBe(1)
      expect(yield* Effect.flip(pool.call("add", 5, 6))).toMatchObject({ reason: "queue-full" })
      expect((yield* read(Metrics.rejected)).count).toBe(1)
      yield* Fiber.interrupt(busy)
      expect(yield* Fiber.join(queued)).toBe(3)
      expect((yield* read(Offload.replacedCounter)).count).toBe(1)
      expect((yield* read(Metrics.inFlight)).value).toBe(0)
      expect((yield* read(Metrics.waiting)).value).toBe(0)
      expect((yield* read(Metrics.acquired)).count).toBe(2)
      const waited = yield* read(Metrics.waitTime)
      expect(waited.count).toBe(2)
      expect(waited.min).toBeGreaterThanOrEqual(0)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.live("with metrics off (the default), nothing is recorded", () =>
    Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      yield* Effect.gen(function*() {
        const pool = yield* Offload.make<Tasks>({ module, size: 1, maxQueued: 0, name: "quiet" })
        expect(yield* pool.call("add", 1, 2)).toBe(3)
        expect(yield* Effect.flip(pool.call("crash"))).toMatchObject({ _tag: "WorkerCrashedError" })
        expect(yield* pool.stats).toMatchObject({ completed: 1, failed: 1, replaced: 1 })
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, registry))
      expect([...registry.keys()]).toEqual([])
    }))

  it.live("a module that cannot be loaded fails each call with WorkerError", () =>
    Effect.gen(function*() {
      const pool = yield* Offload.make<Tasks>({ module: "/nonexistent/tasks.mjs", size: 1 })
      const error = yield* Effect.flip(pool.call("add", 1, 2))
      expect(error).toMatchObject({ _tag: "WorkerError", function: "add" })
      expect(error.message).toContain("cannot load file:///nonexistent/tasks.mjs")
    }))

  it.effect("invalid options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const bad = (options: Offload.Options) =>
        Offload.make(options).pipe(Effect.flip, Effect.map((e) => [e.option, e.value]))
      expect(yield* bad({ module, size: 0 })).toEqual(["size", 0])
      expect(yield* bad({ module, size: 1.5 })).toEqual(["size", 1.5])
      expect(yield* bad({ module, size: Number.NaN })).toEqual(["size", Number.NaN])
      expect(yield* bad({ module, maxQueued: -1 })).toEqual(["maxQueued", -1])
      expect(yield* bad({ module: "relative/tasks.ts" })).toEqual(["module", "relative/tasks.ts"])
      expect(yield* Effect.flip(Offload.make({ module: 42 as never }))).toBeInstanceOf(InvalidOptionError)
    }))
})
