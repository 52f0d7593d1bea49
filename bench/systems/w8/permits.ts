/**
 * W8 child: one process of the distributed-permit benchmark. `node permits.ts '<json>'` with
 * `{ system: "limiter" | "distributed" | "redis-semaphore", url, n, concurrency, limit, name }`: prints `ready`,
 * waits for `go` on stdin, takes `n` permits (`concurrency` at a time) around an empty task, and prints
 * `{"ms":…, "n":…, "cpuMs":…}` (the wall time and the CPU time, user + system, of the work).
 */
import * as Limiter from "@async-ops/core/Limiter"
import { DistributedLimiter, RedisConnection } from "@async-ops/redis"
import { Effect, Layer } from "effect"
import { Redis as IORedis } from "ioredis"
import { performance } from "node:perf_hooks"
import * as Readline from "node:readline"
import { Semaphore } from "redis-semaphore"

const args = JSON.parse(process.argv[2]!) as {
  system: string
  url: string
  n: number
  concurrency: number
  limit: number
  name: string
}

let cpuAtGo = process.cpuUsage()

const go = () =>
  new Promise<void>((resolve) => {
    process.stdout.write("ready\n")
    const lines = Readline.createInterface({ input: process.stdin })
    lines.on("line", (line) => {
      if (line.trim() === "go") {
        lines.close()
        cpuAtGo = process.cpuUsage()
        resolve()
      }
    })
  })

const done = (ms: number) => {
  const used = process.cpuUsage(cpuAtGo)
  const cpuMs = (used.user + used.system) / 1000
  process.stdout.write(JSON.stringify({ ms, n: args.n, cpuMs }) + "\n", () => process.exit(0))
}

/** `concurrency` loops sharing a countdown of `n` permits. */
const loops = <A, E>(take: Effect.Effect<A, E>) => {
  let left = args.n
  const loop = Effect.gen(function*() {
    while (left > 0) {
      left--
      yield* take
    }
  })
  return Effect.forEach(Array.from({ length: args.concurrency }), () => loop, {
    concurrency: "unbounded",
    discard: true
  })
}

if (args.system === "redis-semaphore") {
  const client = new IORedis(args.url)
  await client.ping()
  await go()
  const start = performance.now()
  let left = args.n
  const loop = async () => {
    while (left > 0) {
      left--
      const semaphore = new Semaphore(client, args.name, args.limit, { acquireTimeout: 120_000 })
      await semaphore.acquire()
      await semaphore.release()
    }
  }
  await Promise.all(Array.from({ length: args.concurrency }, loop))
  const ms = performance.now() - start
  client.disconnect()
  done(ms)
} else {
  const program = Effect.gen(function*() {
    const limiter = args.system === "limiter"
      ? yield* Limiter.make({ limit: args.limit })
      : yield* DistributedLimiter.make({ name: args.name, limit: args.limit })
    const work = loops(limiter.withPermit(Effect.void))
    yield* Effect.promise(go)
    const start = performance.now()
    yield* work
    return performance.now() - start
  })
  const layer = args.system === "limiter" ? Layer.empty : RedisConnection.layer({ url: args.url })
  const ms = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer)) as Effect.Effect<number>)
  done(ms)
}
