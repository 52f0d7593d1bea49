/**
 * W8 runner side (for `pnpm bench`): spawns `processes` children of `permits.ts` for one system against the
 * workload's redis-server (`port`, started by the workload's setup; `port: 0` means no redis-server was found and
 * the row is skipped), waits until every one is connected, then times from `go` to the last one's end. Reports
 * the wall time, the children's CPU time (user + system, summed) and the number of permits taken as the check.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { benchMeasured, skip } from "../../runner.ts"
import { NO_REDIS } from "./redisServer.ts"

const child = join(dirname(fileURLToPath(import.meta.url)), "permits.ts")

/** Resolves with the first stdout line `predicate` accepts; rejects when the child exits first. */
export const lineOf = (proc: ChildProcess, predicate: (line: string) => boolean): Promise<string> =>
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

/** One measurement: `permits` permits over `processes` processes (`concurrency` loops each), limit `limit`. */
export const measure = async (options: {
  readonly system: string
  readonly url: string
  readonly name: string
  readonly permits: number
  readonly processes: number
  readonly concurrency: number
  readonly limit: number
}): Promise<{ readonly ms: number; readonly cpuMs: number; readonly permits: number }> => {
  const n = Math.ceil(options.permits / options.processes)
  const procs = Array.from({ length: options.processes }, () =>
    spawn(process.execPath, [
      child,
      JSON.stringify({
        system: options.system,
        url: options.url,
        n,
        concurrency: options.concurrency,
        limit: options.limit,
        name: options.name
      })
    ], { stdio: ["pipe", "pipe", "pipe"] }))
  await Promise.all(procs.map((p) => lineOf(p, (l) => l === "ready")))
  const results = procs.map((p) => lineOf(p, (l) => l.startsWith("{")))
  const start = performance.now()
  for (const p of procs) p.stdin!.write("go\n")
  const lines = await Promise.all(results)
  const ms = performance.now() - start
  const cpuMs = lines.reduce((sum, l) => sum + (JSON.parse(l) as { cpuMs: number }).cpuMs, 0)
  return { ms, cpuMs, permits: n * options.processes }
}

/** The body of each W8 runner file. */
export const runSystem = (system: string): void => {
  const raw = JSON.parse(process.argv[2] ?? "{}") as { params?: Record<string, number> }
  if ((raw.params?.["port"] ?? 0) === 0) return skip(NO_REDIS)
  benchMeasured(async ({ params, size }) => {
    const { cpuMs, ms, permits } = await measure({
      system,
      url: `redis://127.0.0.1:${params["port"]}`,
      name: `bench-${process.pid}`,
      permits: size,
      processes: params["processes"] ?? 1,
      concurrency: params["concurrency"] ?? 1,
      limit: params["limit"] ?? 10
    })
    return { ms, cpuMs, check: permits }
  })
}
