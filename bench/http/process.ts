/**
 * Processes of the HTTP workloads: W4's target server (started once per workload by its `setup`) and W6's load
 * generator (started by each W6 server runner, so the load comes from a process of its own). Both are plain Node
 * scripts in this folder, run with `process.execPath`.
 */
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))

/** Reads the first line a child prints on stdout as JSON; rejects if it exits (or errors) first. */
const firstLine = <A>(child: ReturnType<typeof spawn>, what: string): Promise<A> =>
  new Promise((resolve, reject) => {
    let out = ""
    let err = ""
    const onData = (d: string) => {
      out += d
      const nl = out.indexOf("\n")
      if (nl < 0) return
      child.stdout?.off("data", onData)
      try {
        resolve(JSON.parse(out.slice(0, nl)) as A)
      } catch (error) {
        reject(new Error(`${what} printed ${JSON.stringify(out.slice(0, nl))}: ${String(error)}`))
      }
    }
    child.stdout?.setEncoding("utf8").on("data", onData)
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d))
    child.once("error", reject)
    child.once("exit", (code, signal) => reject(new Error(`${what} exited (${code ?? signal}) early: ${err.trim()}`)))
  })

/** W4's server (`server.ts`) in a child process: its port, and `close` (ends its stdin and waits for it to exit). */
export const startServer = async (): Promise<{ readonly port: number; readonly close: () => Promise<void> }> => {
  const child = spawn(process.execPath, [join(here, "server.ts")], { stdio: ["pipe", "pipe", "pipe"] })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  try {
    const { port } = await firstLine<{ port: number }>(child, "the W4 server")
    return {
      port,
      close: async () => {
        child.stdin?.end()
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
        await exited
        clearTimeout(timer)
      }
    }
  } catch (error) {
    child.kill("SIGKILL")
    throw error
  }
}

/**
 * What a load measured: the wall time of the timed requests (from the generator), how many answered `200 ok`, and
 * the CPU time the serving process (the caller) spent per the timed requests: its CPU over the warm-up and the
 * timed requests, scaled to the timed ones' share.
 */
export interface Load {
  readonly ms: number
  readonly check: number
  readonly cpuMs: number
}

/**
 * Runs `loadgen.ts` against `127.0.0.1:port`: `warmup` untimed requests, then `total` timed ones, `concurrency`
 * at a time over as many keep-alive connections. The caller is the server: its CPU time is measured meanwhile.
 */
export const runLoad = async (
  options: { readonly port: number; readonly total: number; readonly concurrency: number; readonly warmup: number }
): Promise<Load> => {
  const cpu = process.cpuUsage()
  const child = spawn(process.execPath, [join(here, "loadgen.ts"), JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const load = await firstLine<{ ms: number; check: number }>(child, "the load generator")
  const used = process.cpuUsage(cpu)
  await exited
  const share = options.total / (options.total + options.warmup)
  return { ms: load.ms, check: load.check, cpuMs: ((used.user + used.system) / 1000) * share }
}
