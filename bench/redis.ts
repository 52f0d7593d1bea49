/**
 * W8 distributed permits (issue 14): permits per second through `withPermit` on one local `redis-server`, one
 * process uncontended and 4 processes contending for one limit, for `DistributedLimiter` and `redis-semaphore` (the
 * usual Node choice, on ioredis) on the same server, with core's in-process `Limiter` as the floor. Each measurement
 * spawns its processes (`systems/w8/permits.ts`), waits until every one is connected, then times from `go` to the
 * last one's end; rounds are interleaved. It needs a `redis-server` on PATH (or `$ASYNC_OPS_REDIS_SERVER`).
 *
 *   node bench/redis.ts [--rounds 3] [--size 1]
 *
 * Not registered in `run.ts`: it needs a Redis server, which the harness's workloads do not.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const here = dirname(fileURLToPath(import.meta.url))
const child = join(here, "systems", "w8", "permits.ts")

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, size: { type: "string", default: "1" } }
})
const rounds = Number(values.rounds)
const scale = Number(values.size)

const binary = process.env["ASYNC_OPS_REDIS_SERVER"] || "redis-server"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const ping = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (d) => {
      socket.destroy()
      resolve(d.toString().startsWith("+PONG"))
    })
    socket.once("error", () => resolve(false))
  })

const startRedis = async () => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "async-ops-bench-redis-"))
  const proc = spawn(binary, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no"
  ], {
    stdio: "ignore"
  })
  for (let i = 0; i < 200 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 25))
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => {
      proc.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const lineOf = (proc: ChildProcess, predicate: (line: string) => boolean) =>
  new Promise<string>((resolve, reject) => {
    let buffer = ""
    let stderr = ""
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    const onData = (d: Buffer) => {
      buffer += d.toString()
      for (const line of buffer.split("\n")) {
        if (predicate(line)) {
          proc.stdout!.off("data", onData)
          resolve(line)
          return
        }
      }
    }
    proc.stdout!.on("data", onData)
    proc.once("exit", (code) => reject(new Error(`child exited ${code}: ${stderr}`)))
  })

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
const measure = async (url: string, system: string, mode: Mode): Promise<number> => {
  round++
  const name = `bench-${round}`
  const procs = Array.from({ length: mode.processes }, () =>
    spawn(process.execPath, [
      child,
      JSON.stringify({
        system,
        url,
        n: Math.ceil(mode.permits / mode.processes),
        concurrency: mode.concurrency,
        limit: LIMIT,
        name
      })
    ], { stdio: ["pipe", "pipe", "pipe"] }))
  await Promise.all(procs.map((p) => lineOf(p, (l) => l === "ready")))
  const results = procs.map((p) => lineOf(p, (l) => l.startsWith("{")))
  const start = performance.now()
  for (const p of procs) p.stdin!.write("go\n")
  await Promise.all(results)
  const ms = performance.now() - start
  const total = Math.ceil(mode.permits / mode.processes) * mode.processes
  return total / (ms / 1000)
}

const median = (xs: Array<number>) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!

const redis = await startRedis()
try {
  const samples = new Map<string, Array<number>>()
  for (let r = -1; r < rounds; r++) {
    for (const mode of modes) {
      for (const system of systems) {
        const rate = await measure(redis.url, system.id, mode)
        process.stderr.write(
          `round ${r < 0 ? "warm-up" : r + 1}: ${mode.name}, ${system.id}: ${Math.round(rate)} permits/s\n`
        )
        if (r >= 0) {
          samples.set(`${mode.name}|${system.id}`, [...(samples.get(`${mode.name}|${system.id}`) ?? []), rate])
        }
      }
    }
  }
  const lines = [`### W8 distributed permits (median of ${rounds} interleaved rounds, limit ${LIMIT})`, ""]
  for (const mode of modes) {
    lines.push(
      `${mode.name}, ${mode.permits} permits:`,
      "",
      "| system | permits/s | vs DistributedLimiter |",
      "| --- | ---: | ---: |"
    )
    const ours = median(samples.get(`${mode.name}|distributed`)!)
    for (const system of systems) {
      const rate = median(samples.get(`${mode.name}|${system.id}`)!)
      lines.push(`| ${system.label} | ${Math.round(rate).toLocaleString("en-US")} | ${(rate / ours).toFixed(2)}x |`)
    }
    const semaphore = median(samples.get(`${mode.name}|redis-semaphore`)!)
    lines.push(
      "",
      `Bar (at least redis-semaphore's throughput): ${ours >= semaphore ? "pass" : "MISS"} (${
        (ours / semaphore).toFixed(2)
      }x)`,
      ""
    )
  }
  console.log(lines.join("\n"))
} finally {
  redis.close()
}
