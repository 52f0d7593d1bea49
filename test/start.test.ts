/**
 * `pnpm start` as a user runs it: `npx -y pnpm@10 start` starts npx, pnpm, two `sh` shims and node with the demo. A
 * SIGTERM to the top process only (what `timeout` or a supervisor sends to the process it started) must stop the
 * demo with its summary and leave nothing of the chain running.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { root } from "./support/cli.ts"

/** Whether any process of the group `pgid` is still running (zombies excluded: their parent reaps them). */
const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Whether the demo's node process (`bin.ts demo` in its command line) runs in the group `pgid` (Linux `/proc`). */
const demoRunning = (pgid: number): boolean =>
  readdirSync("/proc").some((entry) => {
    if (!/^\d+$/.test(entry)) return false
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const group = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2])
      return group === pgid && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("bin.ts\0demo")
    } catch {
      return false
    }
  })

describe("pnpm start (process)", () => {
  it.live("SIGTERM to npx stops the demo with its summary and leaves no process behind", () =>
    Effect.gen(function*() {
      // its own process group, as a shell job: npx leads it, and every process of the chain is in it
      const child = spawn("npx", ["-y", "pnpm@10", "start", "--urls", "1000000", "--latency", "20"], {
        cwd: root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      const pgid = child.pid!
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL")
        })
      )
      let stdout = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.resume()
      // the chain has started the demo's node process
      yield* Effect.sync(() => demoRunning(pgid)).pipe(
        Effect.repeat({ until: (running) => running, schedule: Schedule.spaced("100 millis") }),
        Effect.timeout("90 seconds")
      )
      process.kill(pgid, "SIGTERM")
      // nothing of the chain is left: the demo noticed its group's leader was gone, stopped and printed its summary
      yield* Effect.sync(() => groupAlive(pgid)).pipe(
        Effect.repeat({ while: (alive) => alive, schedule: Schedule.spaced("100 millis") }),
        Effect.timeout("60 seconds")
      )
      expect(stdout).toMatch(/^async-ops demo: stopped by SIGHUP after \d+\.\d\d s, \d+ of 1000000 URLs done$/m)
      expect(stdout).toMatch(/^ {2}total\s+1000000$/m)
    }).pipe(Effect.scoped), 180_000)
})
