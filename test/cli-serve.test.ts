/**
 * `async-ops serve` as a real process: it prints where it listens once ready, serves the fault routes, answers
 * `/livez`, `/readyz`, `/healthz` and `/metrics` on the admin port, and on SIGTERM fails readiness
 * for the drain delay, then shuts down cleanly with exit 0.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Effect, Schedule } from "effect"
import { spawn } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const bin = join(root, "packages/cli/src/bin.ts")

class SpawnError extends Data.TaggedError("SpawnError")<{ readonly message: string }> {}

interface Reply {
  readonly status: number
  readonly body: string
  readonly type: string | null
}

const get = (url: string) =>
  Effect.tryPromise({
    try: (signal) =>
      fetch(url, { signal }).then((r) =>
        r.text().then((body): Reply => ({ status: r.status, body, type: r.headers.get("content-type") }))
      ),
    catch: (e) => new SpawnError({ message: String(e) })
  })

describe("async-ops serve (process)", () => {
  it.live("prints its addresses, answers fault and health routes, and exits 0 on SIGTERM", () =>
    Effect.gen(function*() {
      const child = spawn(
        process.execPath,
        [
          bin,
          "serve",
          "--port",
          "0",
          "--admin-port",
          "0",
          "--profile",
          "none",
          "--latency",
          "0",
          "--drain-delay",
          "1s"
        ],
        { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      let stdout = ""
      let stderr = ""
      const ready = yield* Deferred.make<{ readonly app: string; readonly admin: string }>()
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        const app = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)
        const admin = /^admin on (http:\/\/127\.0\.0\.1:\d+) \(\/livez \/readyz \/healthz \/metrics\)$/m.exec(stdout)
        if (app !== null && admin !== null) {
          Deferred.doneUnsafe(ready, Effect.succeed({ app: app[1]!, admin: admin[1]! }))
        }
      })
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const exited = Effect.callback<{ code: number | null }>((resume) => {
        if (child.exitCode !== null) return resume(Effect.succeed({ code: child.exitCode }))
        child.once("exit", (code) => resume(Effect.succeed({ code })))
      })
      const { admin, app } = yield* Deferred.await(ready).pipe(
        Effect.raceFirst(
          Effect.andThen(exited, (e) => Effect.fail(new SpawnError({ message: `exited ${e.code}: ${stderr}` })))
        ),
        Effect.timeout("20 seconds")
      )

      expect(yield* get(`${app}/ok`)).toMatchObject({ status: 200, body: "OK" })
      expect(yield* get(`${app}/429`)).toMatchObject({ status: 429 })
      expect(yield* get(`${app}/anything/else`)).toMatchObject({ status: 200 })
      const health = yield* get(`${admin}/healthz`)
      expect(health.status).toBe(200)
      expect(JSON.parse(health.body)).toMatchObject({
        status: "healthy",
        checks: expect.arrayContaining([expect.objectContaining({ name: "fault-server", status: "healthy" })])
      })
      expect((yield* get(`${admin}/livez`)).status).toBe(200)
      expect((yield* get(`${admin}/readyz`)).status).toBe(200)
      const metrics = yield* get(`${admin}/metrics`)
      expect(metrics.status).toBe(200)
      expect(metrics.body).toMatch(/^# TYPE process_resident_memory_bytes gauge$/m)
      // the fault server's counters at the time of the scrape: /ok, /anything/else (200) and /429 so far
      expect(metrics.body).toMatch(/^async_ops_fault_server_requests\{outcome="200"\} 2$/m)
      expect(metrics.body).toMatch(/^async_ops_fault_server_requests\{outcome="429"\} 1$/m)
      expect(metrics.body).toMatch(/^async_ops_fault_server_in_flight 0$/m)

      child.kill("SIGTERM")
      // during the drain delay readiness fails while the fault routes still answer
      yield* get(`${admin}/readyz`).pipe(
        Effect.repeat({ until: (r) => r.status === 503, schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("5 seconds")
      )
      expect(yield* get(`${app}/ok`)).toMatchObject({ status: 200 })
      const { code } = yield* exited.pipe(Effect.timeout("20 seconds"))
      expect(code).toBe(0)
      expect(stderr).toMatch(/^stopped by SIGTERM: clean in \d+ ms$/m)
      expect(stderr).not.toMatch(/\n\s+at /)
    }).pipe(Effect.scoped))
})
