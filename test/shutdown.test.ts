/**
 * SIGTERM under load, with real processes: the 09-template service is spawned with `process.execPath`, loaded
 * with a bounded number of requests over keep-alive connections, and signalled. Every request it accepted must be
 * answered 200, `/readyz` must turn 503 before the listener closes, and the process must exit 0 within its
 * budget; a second signal during the drain must force a non-zero exit.
 *
 * Synchronisation is on the service's stdout (the `listening on` line and the shutdown's logfmt phase lines) and
 * on responses, never on sleeps. The load generator plays the load balancer: it stops sending once `/readyz`
 * answers 503, which the drain delay (1.5 s here) leaves time for.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Effect, Exit, Fiber, Ref, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as http from "node:http"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const app = join(root, "examples", "09-template", "app.ts")

class RequestError extends Data.TaggedError("RequestError")<{ readonly code: string }> {}

interface Service {
  readonly child: ChildProcess
  readonly url: string
  /** Waits for a stdout line matching `pattern` (already seen or to come). */
  readonly line: (pattern: RegExp) => Effect.Effect<string>
  /** Every stdout line so far. */
  readonly lines: () => ReadonlyArray<string>
  /** The exit code (or the signal's name) once the process has exited. */
  readonly exited: Effect.Effect<number | string>
}

/** Spawns the template service on a free port and waits for its `listening on` line; killed with the scope. */
const spawnService = (env: Record<string, string>): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const waiters = new Set<{ readonly pattern: RegExp; readonly resume: (line: string) => void }>()
    const exit = yield* Deferred.make<number | string>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [app], {
          cwd: root,
          env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "Info", ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let buffered = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk
      const parts = buffered.split("\n")
      buffered = parts.pop() ?? ""
      for (const line of parts) {
        lines.push(line)
        for (const waiter of waiters) {
          if (waiter.pattern.test(line)) {
            waiters.delete(waiter)
            waiter.resume(line)
          }
        }
      }
    })
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => process.stderr.write(chunk))
    child.on("exit", (code, signal) => Deferred.doneUnsafe(exit, Exit.succeed(code ?? signal ?? "unknown")))
    const line = (pattern: RegExp) =>
      Effect.callback<string>((resume) => {
        const seen = lines.find((l) => pattern.test(l))
        if (seen !== undefined) return resume(Effect.succeed(seen))
        const waiter = { pattern, resume: (l: string) => resume(Effect.succeed(l)) }
        waiters.add(waiter)
        return Effect.sync(() => waiters.delete(waiter))
      })
    const listening = yield* line(/^listening on http:\/\/127\.0\.0\.1:\d+$/)
    return {
      child,
      url: listening.slice("listening on ".length),
      line,
      lines: () => lines,
      exited: Deferred.await(exit)
    }
  })

/** One GET on `agent`; the status, or a `RequestError` with the socket error's code. */
const get = (agent: http.Agent, url: string) =>
  Effect.callback<number, RequestError>((resume) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume()
      res.on("end", () => resume(Effect.succeed(res.statusCode ?? 0)))
      res.on(
        "error",
        (e: NodeJS.ErrnoException) => resume(Effect.fail(new RequestError({ code: e.code ?? e.message })))
      )
    })
    req.on("error", (e: NodeJS.ErrnoException) => resume(Effect.fail(new RequestError({ code: e.code ?? e.message }))))
    return Effect.sync(() => req.destroy())
  })

/** One GET on `agent`; the body. */
const text = (agent: http.Agent, url: string) =>
  Effect.callback<string, RequestError>((resume) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resume(Effect.succeed(body)))
    })
    req.on("error", (e: NodeJS.ErrnoException) => resume(Effect.fail(new RequestError({ code: e.code ?? e.message }))))
    return Effect.sync(() => req.destroy())
  })

const phaseLine = (phase: string) => new RegExp(`shutdown\\.phase=${phase}\\b`)

describe("SIGTERM on the 09-template service", () => {
  it.live(
    "under load: every accepted request answers 200, /readyz turns 503 before the listener closes, exit 0",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const budgetMs = 10_000
        const service = yield* spawnService({ DRAIN_DELAY_MS: "1500", BUDGET_MS: String(budgetMs) })
        const agent = yield* Effect.acquireRelease(
          Effect.sync(() => new http.Agent({ keepAlive: true, maxSockets: 50 })),
          (a) => Effect.sync(() => a.destroy())
        )
        const probeAgent = yield* Effect.acquireRelease(
          Effect.sync(() => new http.Agent({ keepAlive: false })),
          (a) => Effect.sync(() => a.destroy())
        )
        const total = 2_000
        const signalAfter = 600
        const events = yield* Ref.make<ReadonlyArray<string>>([])
        const note = (event: string) => Ref.update(events, (es) => [...es, event])
        let issued = 0
        let answered = 0
        let stopSending = false
        const statuses = new Map<number | string, number>()
        const count = (key: number | string) => statuses.set(key, (statuses.get(key) ?? 0) + 1)
        const signalled = yield* Deferred.make<void>()
        expect(yield* get(probeAgent, `${service.url}/readyz`)).toBe(200)

        // 50 workers share the 2,000 requests; SIGTERM goes out after the 600th answer
        const worker = Effect.gen(function*() {
          while (issued < total && !stopSending) {
            issued++
            const result = yield* Effect.result(get(agent, `${service.url}/work`))
            count(result._tag === "Success" ? result.success : result.failure.code)
            answered++
            if (answered === signalAfter) {
              service.child.kill("SIGTERM")
              yield* note("SIGTERM sent")
              yield* Deferred.succeed(signalled, undefined)
            }
          }
        })
        // the load balancer: polls /readyz after the signal and stops sending on the first 503
        const balancer = Effect.gen(function*() {
          yield* Deferred.await(signalled)
          while (true) {
            const status = yield* get(probeAgent, `${service.url}/readyz`)
            if (status === 503) {
              stopSending = true
              yield* note("readyz 503")
              return
            }
          }
        })
        const stopping = Effect.flatMap(service.line(phaseLine("stopping")), () => note("phase stopping"))
        yield* Effect.all([
          Effect.all(Array.from({ length: 50 }, () => worker), { concurrency: "unbounded" }),
          balancer,
          stopping
        ], {
          concurrency: "unbounded"
        })
        const code = yield* service.exited

        const summary = { issued, answered, statuses: Object.fromEntries(statuses), code }
        console.log(`SIGTERM under load: ${JSON.stringify(summary)}`)
        // the readiness probe failed while the listener was still open, before the stopping phase closed it
        expect(yield* Ref.get(events)).toEqual(["SIGTERM sent", "readyz 503", "phase stopping"])
        // every request that was sent was accepted and answered 200; none was reset or refused
        expect(answered).toBe(issued)
        expect(statuses.get(200)).toBe(issued)
        expect(statuses.size).toBe(1)
        expect(issued).toBeGreaterThan(signalAfter)
        expect(issued).toBeLessThan(total)
        // exit 0 within the budget, as the service's own report says
        expect(code).toBe(0)
        const done = service.lines().find((l) => /shutdown clean after \d+ ms/.test(l))
        expect(done).toBeDefined()
        const elapsed = Number(/shutdown clean after (\d+) ms/.exec(done!)?.[1])
        expect(elapsed).toBeGreaterThanOrEqual(1500)
        expect(elapsed).toBeLessThan(budgetMs)
        expect(service.lines().filter((l) => /shutdown\.phase=/.test(l)).map((l) => phaseLine("\\w+").exec(l)?.[0]))
          .toEqual(["shutdown.phase=draining", "shutdown.phase=stopping", "shutdown.phase=stopped"])
      })),
    120_000
  )

  it.live(
    "a drain that outlasts the budget is cut off: the report names it and the exit code is 1",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const service = yield* spawnService({ DRAIN_DELAY_MS: "100", BUDGET_MS: "1500" })
        const agent = yield* Effect.acquireRelease(
          Effect.sync(() => new http.Agent({ keepAlive: false })),
          (a) => Effect.sync(() => a.destroy())
        )
        // a request far longer than the budget, in flight when the signal comes
        const slow = yield* Effect.forkChild(Effect.result(get(agent, `${service.url}/work?ms=60000`)), {
          startImmediately: true
        })
        // wait until the server counts it in flight (its own metrics say so), then signal
        yield* Effect.repeat(text(agent, `${service.url}/metrics`), {
          until: (body) => /^async_ops_in_flight\{primitive="ServerInFlight",name="http"\} [1-9]/m.test(body)
        })
        service.child.kill("SIGTERM")
        const code = yield* service.exited
        const answer = yield* Fiber.join(slow)
        console.log(
          `budget overrun: exit code ${code}, slow request ${
            answer._tag === "Success" ? answer.success : answer.failure.code
          }`
        )
        expect(code).toBe(1)
        expect(service.lines().some((l) => /shutdown overrun after \d+ ms; cut off: http, finalizers/.test(l))).toBe(
          true
        )
        expect(answer._tag).toBe("Failure")
      })),
    120_000
  )

  it.live(
    "a second SIGTERM during the drain forces an immediate stop with exit code 130",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const service = yield* spawnService({ DRAIN_DELAY_MS: "20000", BUDGET_MS: "25000" })
        service.child.kill("SIGTERM")
        yield* service.line(phaseLine("draining"))
        service.child.kill("SIGTERM")
        const code = yield* service.exited
        console.log(`second SIGTERM: exit code ${code}`)
        expect(code).toBe(130)
        expect(service.lines().some((l) => l.includes("again during shutdown, forcing an immediate stop"))).toBe(true)
        expect(
          service.lines().some((l) => /shutdown forced after \d+ ms; cut off: drain delay, http, finalizers/.test(l))
        )
          .toBe(true)
      })),
    120_000
  )
})
