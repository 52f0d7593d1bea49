/**
 * W8 distributed permits (issue 14), standalone: permits per second through `withPermit` on one local
 * `redis-server`, one process uncontended and 4 processes contending for one limit, for `DistributedLimiter` and
 * `redis-semaphore` (the usual Node choice, on ioredis) on the same server, with core's in-process `Limiter` as the
 * floor. Each measurement spawns its processes (`systems/w8/permits.ts`), waits until every one is connected, then
 * times from `go` to the last one's end; rounds are interleaved. CPU per permit is the processes' user + system
 * time over the work, summed. It needs a `redis-server` on PATH (or `$ASYNC_OPS_REDIS_SERVER`).
 *
 *   node bench/redis.ts [--rounds 3] [--size 1] [--systems distributed,redis-semaphore,limiter]
 *
 * `pnpm bench w8` runs the same measurement through the harness (workload `w8` in `workloads.ts`).
 */
import { parseArgs } from "node:util"
import { measure } from "./systems/w8/fleet.ts"
import { NO_REDIS, redisAvailable, startRedis } from "./systems/w8/redisServer.ts"

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    size: { type: "string", default: "1" },
    systems: { type: "string", default: "distributed,redis-semaphore,limiter" },
    help: { type: "boolean", default: false }
  }
})
if (values.help) {
  console.log(`node bench/redis.ts [--rounds 3] [--size 1] [--systems distributed,redis-semaphore,limiter]

W8 distributed permits: permits/s and CPU per permit through withPermit on one local redis-server (started here),
1 process uncontended (5,000 x size permits) and 4 processes contending (8,000 x size), rounds interleaved after
one warm-up round. Needs redis-server on PATH or in $ASYNC_OPS_REDIS_SERVER.`)
  process.exit(0)
}
const rounds = Number(values.rounds)
const scale = Number(values.size)
if (!redisAvailable()) {
  console.error(`W8 skipped: ${NO_REDIS}`)
  process.exit(0)
}

interface Mode {
  readonly name: string
  readonly processes: number
  readonly concurrency: number
  readonly permits: number
}

const LIMIT = 10
const modes: ReadonlyArray<Mode> = [
  { name: "1 process, uncontended (1 at a time)", processes: 1, concurrency: 1, permits: Math.ceil(5000 * scale) },
  { name: "4 processes contending (8 each, limit 10)", processes: 4, concurrency: 8, permits: Math.ceil(8000 * scale) }
]
const systems = [
  { id: "distributed", label: "**DistributedLimiter**" },
  { id: "redis-semaphore", label: "redis-semaphore 5.8 (ioredis)" },
  { id: "limiter", label: "core Limiter, in process (floor)" }
]

let round = 0
const run = async (url: string, system: string, mode: Mode) => {
  round++
  const { cpuMs, ms, permits } = await measure({
    system,
    url,
    name: `bench-${round}`,
    permits: mode.permits,
    processes: mode.processes,
    concurrency: mode.concurrency,
    limit: LIMIT
  })
  return { rate: permits / (ms / 1000), cpuUs: (cpuMs * 1000) / permits }
}

const median = (xs: Array<number>) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!

const wanted = new Set(values.systems.split(","))
const chosen = systems.filter((s) => wanted.has(s.id))
const redis = await startRedis()
const url = `redis://127.0.0.1:${redis.port}`
try {
  const samples = new Map<string, { rate: Array<number>; cpuUs: Array<number> }>()
  for (let r = -1; r < rounds; r++) {
    for (const mode of modes) {
      for (const system of chosen) {
        const { cpuUs, rate } = await run(url, system.id, mode)
        process.stderr.write(
          `round ${r < 0 ? "warm-up" : r + 1}: ${mode.name}, ${system.id}: ${Math.round(rate)} permits/s, ${
            cpuUs.toFixed(0)
          } us CPU/permit\n`
        )
        if (r >= 0) {
          const key = `${mode.name}|${system.id}`
          const entry = samples.get(key) ?? { rate: [], cpuUs: [] }
          entry.rate.push(rate)
          entry.cpuUs.push(cpuUs)
          samples.set(key, entry)
        }
      }
    }
  }
  const lines = [`### W8 distributed permits (median of ${rounds} interleaved rounds, limit ${LIMIT})`, ""]
  for (const mode of modes) {
    lines.push(
      `${mode.name}, ${mode.permits} permits:`,
      "",
      "| system | permits/s | CPU us/permit | vs DistributedLimiter |",
      "| --- | ---: | ---: | ---: |"
    )
    const ours = samples.get(`${mode.name}|distributed`)
    const oursRate = ours === undefined ? NaN : median(ours.rate)
    for (const system of chosen) {
      const entry = samples.get(`${mode.name}|${system.id}`)!
      const rate = median(entry.rate)
      lines.push(
        `| ${system.label} | ${Math.round(rate).toLocaleString("en-US")} | ${median(entry.cpuUs).toFixed(0)} | ${
          (rate / oursRate).toFixed(2)
        }x |`
      )
    }
    const semaphore = samples.get(`${mode.name}|redis-semaphore`)
    if (ours !== undefined && semaphore !== undefined) {
      const ratio = oursRate / median(semaphore.rate)
      lines.push(
        "",
        `Bar (at least redis-semaphore's throughput): ${ratio >= 1 ? "pass" : "MISS"} (${ratio.toFixed(2)}x)`
      )
    }
    lines.push("")
  }
  console.log(lines.join("\n"))
} finally {
  await redis.close()
}
