/**
 * `async-ops serve` as a real process: it prints where it listens once ready, serves the fault routes, answers
 * `/livez`, `/readyz`, `/healthz` and `/metrics` on the admin port, and on SIGTERM fails readiness
 * for the drain delay, then shuts down cleanly with exit 0.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Effect, Fiber, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as Http from "node:http"
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

/** Starts `serve` on free ports with the fault routes as they are (no faults, no latency but on `/slow`). */
const startServe = (extra: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const child = spawn(
      process.execPath,
      [bin, "serve", "--port", "0", "--admin-port", "0", "--profile", "none", "--latency", "0", ...extra],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
    let stdout = ""
    let stderr = ""
    const ready = yield* Deferred.make<{ readonly app: string; readonly admin: string }>()
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      const app = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)
      const admin = /^admin on (http:\/\/127\.0\.0\.1:\d+) /m.exec(stdout)
      if (app !== null && admin !== null) Deferred.doneUnsafe(ready, Effect.succeed({ app: app[1]!, admin: admin[1]! }))
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
      Effect.timeout("60 seconds")
    )
    return { child, app, admin, exited, stderr: () => stderr }
  })

describe("async-ops serve (process)", () => {
  it.live(
    "prints its addresses, answers fault and health routes, and exits 0 on SIGTERM",
    () =>
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
          Effect.timeout("60 seconds")
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
        expect(metrics.body).toMatch(/^# TYPE async_ops_fault_server_requests_total counter$/m)
        expect(metrics.body).toMatch(/^async_ops_fault_server_requests_total\{outcome="200"\} 2$/m)
        expect(metrics.body).toMatch(/^async_ops_fault_server_requests_total\{outcome="429"\} 1$/m)
        expect(metrics.body).toMatch(/^async_ops_fault_server_in_flight 0$/m)
        // a second scrape adds only what arrived since the first: the counter counts each request once
        expect(yield* get(`${app}/ok`)).toMatchObject({ status: 200 })
        const again = yield* get(`${admin}/metrics`)
        expect(again.body).toMatch(/^async_ops_fault_server_requests_total\{outcome="200"\} 3$/m)
        expect(again.body).toMatch(/^async_ops_fault_server_requests_total\{outcome="429"\} 1$/m)

        child.kill("SIGTERM")
        // during the drain delay readiness fails while the fault routes still answer
        yield* get(`${admin}/readyz`).pipe(
          Effect.repeat({ until: (r) => r.status === 503, schedule: Schedule.spaced("20 millis") }),
          Effect.timeout("5 seconds")
        )
        expect(yield* get(`${app}/ok`)).toMatchObject({ status: 200 })
        const { code } = yield* exited.pipe(Effect.timeout("60 seconds"))
        expect(code).toBe(0)
        expect(stderr).toMatch(/^stopped by SIGTERM: clean in \d+ ms$/m)
        expect(stderr).not.toMatch(/\n\s+at /)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "SIGTERM under 50-connection keep-alive load on a slow route: Connection: close, no reset, exit 0",
    () =>
      Effect.gen(function*() {
        const { app, child, exited, stderr } = yield* startServe(["--drain-delay", "1s", "--budget", "30s"])
        const { port } = new URL(app)
        const agent = new Http.Agent({ keepAlive: true, maxSockets: 50 })
        yield* Effect.addFinalizer(() => Effect.sync(() => agent.destroy()))
        let terminated = false
        const tally = {
          answered: 0,
          afterSignal: 0,
          closeHeaders: 0,
          refused: 0,
          resets: 0,
          other: [] as Array<string>
        }
        // one loop per connection: a request after each answer, until the listener refuses connections
        const loop = Effect.callback<void>((resume) => {
          const next = (): void => {
            const sentAfterSignal = terminated
            const request = Http.get({ host: "127.0.0.1", port, path: "/slow", agent }, (response) => {
              response.resume()
              response.on("end", () => {
                tally.answered++
                if (sentAfterSignal) tally.afterSignal++
                if (sentAfterSignal && response.headers.connection === "close") tally.closeHeaders++
                next()
              })
            })
            request.on("error", (e: NodeJS.ErrnoException) => {
              if (e.code === "ECONNREFUSED") tally.refused++
              else if (e.code === "ECONNRESET" || e.message === "socket hang up") tally.resets++
              else tally.other.push(String(e.code ?? e.message))
              resume(Effect.void)
            })
          }
          next()
        })
        const loops = yield* Effect.forkChild(Effect.all(Array.from({ length: 50 }, () => loop), { concurrency: 50 }))
        // every connection has had an answer: the load is steady
        yield* Effect.sync(() => tally.answered).pipe(
          Effect.repeat({ until: (n) => n >= 100, schedule: Schedule.spaced("50 millis") }),
          Effect.timeout("60 seconds")
        )
        terminated = true
        child.kill("SIGTERM")
        const { code } = yield* exited.pipe(Effect.timeout("60 seconds"))
        yield* Fiber.join(loops).pipe(Effect.timeout("30 seconds"))
        expect({ code, resets: tally.resets, other: tally.other }).toStrictEqual({ code: 0, resets: 0, other: [] })
        // the load went on during the drain delay, each request sent after the signal answered with a request to
        // close the connection
        expect(tally.afterSignal).toBeGreaterThan(0)
        expect(tally.closeHeaders).toBe(tally.afterSignal)
        expect(tally.refused).toBe(50)
        expect(stderr()).toMatch(/^stopped by SIGTERM: clean in \d+ ms$/m)
      }).pipe(Effect.scoped),
    180_000
  )
})
