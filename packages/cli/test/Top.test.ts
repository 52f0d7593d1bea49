import { Top } from "@async-ops/cli"
import { Bulkhead, Limiter, Registry, WorkQueue } from "@async-ops/core"
import { Introspection } from "@async-ops/service"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"

type Snapshot = Introspection.Snapshot

const snapshot = (over: Partial<Snapshot> = {}): Snapshot => ({
  service: "async-ops",
  version: 1,
  at: 10_000,
  uptimeMs: 83_000,
  tasks: [
    { name: "consumer", owner: "workers", kind: "Supervisor", state: "running", ageMs: 5_000 },
    { name: "audit", owner: "workers", kind: "Supervisor", state: "restarting", ageMs: 125_000 },
    { name: "beacon", owner: "jobs", kind: "Supervisor", state: "running", ageMs: 40 }
  ],
  primitives: [
    { kind: "EventLoopMonitor", name: "main", stats: { p50: 1.25, p99: 42.5, max: 120 } },
    { kind: "Shutdown", name: "shutdown", stats: { phase: "draining" } },
    {
      kind: "KeyedLimiter",
      name: "upstream",
      stats: {
        limit: null,
        perKey: 8,
        inFlight: 11,
        waiting: 3000,
        rejected: 10,
        perKeys: [{ key: "api.example", inFlight: 8, waiting: 2990 }, { key: "cdn.example", inFlight: 3, waiting: 10 }]
      }
    },
    { kind: "Bulkhead", name: "http", stats: { maxConcurrent: 200, inFlight: 16, queued: 4, rejectedQueueFull: 7 } },
    { kind: "WorkQueue", name: "jobs", stats: { size: 900, unfinished: 905, waitingTakers: 0, state: "open" } },
    { kind: "WorkerPool", name: "mailer", stats: { workers: 4, queued: 12, active: 4, state: "open" } },
    { kind: "HttpClient", name: "upstream", stats: { breakers: { "api.example": "open", "cdn.example": "closed" } } },
    { kind: "Mutex", name: "ledger", stats: { locked: true, waiting: 2 } },
    { kind: "Periodic", name: "nightly", stats: { running: false, runs: 3, failures: 1 } }
  ],
  ...over
})

const view = (over: Partial<Top.View> = {}): Top.View => ({
  width: 100,
  sort: "age",
  filter: "",
  source: "http://127.0.0.1:8080",
  ...over
})

/** The frame's lines without their padding. */
const text = (lines: ReadonlyArray<string>) => lines.map((l) => l.trimEnd())

describe("Top.render", () => {
  it("every line is exactly the width, at 100 and at 40 columns", () => {
    for (const width of [100, 40]) {
      const lines = Top.render(snapshot(), undefined, view({ width }))
      expect(lines.every((l) => l.length === width)).toBe(true)
    }
    const narrow = Top.render(snapshot(), undefined, view({ width: 40 }))
    expect(narrow[0]).toBe("async-ops top http://127.0.0.1:8080  up…")
  })

  it("shows the header, every section and its rows", () => {
    const lines = text(Top.render(snapshot(), undefined, view()))
    expect(lines[0]).toBe(
      "async-ops top http://127.0.0.1:8080  up 1m23s  shutdown: draining  event loop p99: 42.5ms  max 120ms"
    )
    const row = (start: string) => lines.find((l) => l.startsWith(start))!.split(/\s{2,}| (?=\S)/).filter((c) => c)
    expect(lines).toContain("TASKS (3) sorted by age")
    expect(row("upstream")).toEqual(["upstream", "KeyedLimiter", "∞", "11", "3000", "10", "-"])
    expect(row("  api.example")).toEqual(["api.example", "per", "key", "8", "8", "2990"])
    expect(row("http ")).toEqual(["http", "Bulkhead", "200", "16", "4", "7", "-"])
    expect(row("jobs ")).toEqual(["jobs", "WorkQueue", "900", "905", "0", "open"])
    expect(row("mailer")).toEqual(["mailer", "WorkerPool", "12", "16", "0", "open"])
    expect(row("api.example ")).toEqual(["api.example", "upstream", "open"])
    expect(row("ledger")).toEqual(["ledger", "Mutex", "locked", "2"])
    expect(text(Top.render(snapshot(), undefined, view())).find((l) => l.startsWith("nightly"))).toMatch(
      /^nightly +Periodic +idle 3 runs 1 failed +-$/
    )
    expect(lines.at(-1)).toBe("q quit  s sort (age)  / filter  esc clear")
  })

  it("sorts tasks by age, name or state", () => {
    const order = (sort: Top.TaskSort) =>
      text(Top.render(snapshot(), undefined, view({ sort }))).slice(4, 7).map((l) => l.split(" ")[0])
    expect(order("age")).toEqual(["audit", "consumer", "beacon"])
    expect(order("name")).toEqual(["audit", "beacon", "consumer"])
    // "restarting" before "running", then the oldest first
    expect(order("state")).toEqual(["audit", "consumer", "beacon"])
    expect(order("name")).not.toEqual(order("age"))
  })

  it("a filter keeps the rows whose name, owner, key or host contains it", () => {
    const lines = text(Top.render(snapshot(), undefined, view({ filter: "API" })))
    expect(lines).toContain("TASKS (0) sorted by age")
    expect(lines.filter((l) => l.includes("api.example")).length).toBe(2)
    expect(lines.some((l) => l.startsWith("http "))).toBe(false)
    expect(lines.some((l) => l.startsWith("jobs "))).toBe(false)
    expect(lines.at(-1)).toBe("q quit  s sort (age)  / filter \"API\"  esc clear")
  })

  it("rejections per second come from the snapshot before", () => {
    const before = snapshot()
    const after = snapshot({
      at: 12_000,
      primitives: before.primitives.map((p) =>
        p.kind === "KeyedLimiter" ? { ...p, stats: { ...p.stats, rejected: 40 } } : p
      )
    })
    const lines = text(Top.render(after, before, view()))
    expect(lines.find((l) => l.startsWith("upstream"))!.endsWith(" 40   15.0")).toBe(true)
    expect(lines.find((l) => l.startsWith("http "))!.endsWith(" 7    0.0")).toBe(true)
  })

  it.effect("renders what Introspection serves for live primitives", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 2, name: "db" })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 0, name: "pay" })
      const queue = yield* WorkQueue.make<number>({ capacity: 5, name: "q" })
      yield* queue.offer(1)
      const release = yield* Deferred.make<void>()
      const held = yield* Effect.forkChild(limiter.withPermit(Deferred.await(release)), { startImmediately: true })
      const served = yield* Introspection.snapshot.pipe(Effect.provide(Introspection.layer))
      const decoded = yield* Introspection.decodeSnapshot(JSON.parse(JSON.stringify(served)))
      const lines = text(Top.render(decoded, undefined, view()))
      const cells = (name: string) => lines.find((l) => l.startsWith(name))!.split(/\s+/)
      expect(cells("db ")).toEqual(["db", "Limiter", "2", "1", "0", "0", "-"])
      expect(cells("pay ")).toEqual(["pay", "Bulkhead", "1", "0", "0", "0", "-"])
      expect(cells("q ")).toEqual(["q", "WorkQueue", "1", "1", "0", "open"])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(held)
      expect(bulkhead.name).toBe("pay")
    }).pipe(Effect.provideService(Registry.Registry, Registry.makeUnsafe())))
})
