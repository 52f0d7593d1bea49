/**
 * `async-ops top` as a real process against the 09-template service (spawned like test/shutdown.test.ts) under a
 * light bounded load: `--once` shows the load in the admission section, `--json` prints a snapshot that decodes,
 * the live view draws frames in the alternate screen, re-sorts on `s` and quits on `q`; an unreachable address, a
 * server that is not async-ops and one that never answers each end with one clear line and exit code 1.
 */
import { Introspection } from "@async-ops/service"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { root, runCli } from "./support/cli.ts"

const app = join(root, "examples", "09-template", "app.ts")
const bin = join(root, "packages", "cli", "src", "bin.ts")
const LOAD = 12

/** Spawns the template on a free port; its URL once it prints `listening on`. Killed with the scope. */
const spawnTemplate = Effect.gen(function*() {
  const child = yield* Effect.acquireRelease(
    Effect.sync(() =>
      spawn(process.execPath, [app], {
        cwd: root,
        env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "Error" },
        stdio: ["ignore", "pipe", "inherit"]
      })
    ),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )
  return yield* Effect.callback<string>((resume) => {
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (match !== null) resume(Effect.succeed(match[1]!))
    })
  })
})

/** `count` requests of `GET /work?ms=…` held open by the template; destroyed with the scope. */
const load = (url: string, count: number) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: count }, () => {
        const req = http.get(`${url}/work?ms=60000`, { agent: false })
        req.on("error", () => {})
        return req
      })
    ),
    (requests) => Effect.sync(() => requests.forEach((r) => r.destroy()))
  )

/** The template's snapshot, read until `ready` holds (the load has been admitted). */
const snapshotWhen = (url: string, ready: (s: Introspection.Snapshot) => boolean) =>
  Effect.tryPromise(() => fetch(`${url}${Introspection.snapshotPath}`).then((r) => r.json())).pipe(
    Effect.flatMap(Introspection.decodeSnapshot),
    Effect.filterOrFail(ready, () => "not yet"),
    Effect.retry(Schedule.spaced("50 millis"))
  )

/** A loopback server with `handler`, closed with the scope; its URL. */
const server = (handler: http.RequestListener) =>
  Effect.acquireRelease(
    Effect.callback<http.Server>((resume) => {
      const s = http.createServer(handler)
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) => Effect.sync(() => s.closeAllConnections()).pipe(Effect.andThen(Effect.sync(() => s.close())))
  ).pipe(Effect.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`))

/** The live view, fed keys on stdin; resolves with its exit code and everything it printed. */
const liveTop = (url: string, keys: (stdout: () => string, send: (k: string) => void) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const child: ChildProcess = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [bin, "top", url, "--interval", "0.2", "--width", "100"], {
          cwd: root,
          stdio: ["pipe", "pipe", "pipe"]
        })
      ),
      (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
    )
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    const exited = yield* Deferred.make<number | null>()
    child.on("exit", (code) => Deferred.doneUnsafe(exited, Exit.succeed(code)))
    yield* keys(() => out, (k) => child.stdin!.write(k))
    const code = yield* Deferred.await(exited)
    return { code, stdout: out }
  })

/** Waits (on the child's output, polled) until `predicate` holds. */
const until = (predicate: () => boolean) =>
  Effect.suspend(() => predicate() ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.orDie
  )

describe("async-ops top (process)", () => {
  it.live("against the template under load: --once, --json and the live view", () =>
    Effect.gen(function*() {
      const url = yield* spawnTemplate
      yield* load(url, LOAD)
      // the load shedder counts the snapshot's own request too
      yield* snapshotWhen(url, (s) => s.primitives.some((p) => p.kind === "Bulkhead" && p.stats.inFlight === LOAD + 1))

      const once = yield* runCli(["top", url, "--once", "--width", "100"], { timeout: 60_000 })
      expect(once.code).toBe(0)
      const lines = once.stdout.split("\n")
      expect(lines[0]).toMatch(/^async-ops top http:\/\/127\.0\.0\.1:\d+ {2}up \S+ {2}shutdown: running {2}event loop/)
      expect(lines.find((l) => l.startsWith("http "))!.split(/\s+/).slice(0, 5)).toEqual([
        "http",
        "Bulkhead",
        "200",
        String(LOAD + 1),
        "0"
      ])
      expect(lines.some((l) => l.startsWith("upstream ") && l.includes("KeyedLimiter"))).toBe(true)
      expect(lines.every((l) => l.length <= 100)).toBe(true)

      const json = yield* runCli(["top", url, "--json"], { timeout: 60_000 })
      expect(json.code).toBe(0)
      const decoded = yield* Introspection.decodeSnapshot(JSON.parse(json.stdout))
      expect(decoded.primitives.map((p) => p.kind)).toEqual(
        expect.arrayContaining(["Shutdown", "Bulkhead", "KeyedLimiter", "HttpClient"])
      )

      const live = yield* liveTop(url, (stdout, send) =>
        Effect.gen(function*() {
          // two frames drawn: it refreshes
          yield* until(() => stdout().split("ADMISSION").length > 2)
          send("s")
          yield* until(() => stdout().includes("s sort (name)"))
          send("q")
        }))
      expect(live.code).toBe(0)
      expect(live.stdout.startsWith("\u001b[?1049h\u001b[?25l")).toBe(true)
      expect(live.stdout.endsWith("\u001b[?25h\u001b[?1049l")).toBe(true)
      // every frame starts at the cursor's home and clears the rest of the screen: no blank-screen flicker
      expect(live.stdout).not.toContain("\u001b[2J")
      expect(live.stdout.split("\u001b[H").length).toBeGreaterThan(3)
    }).pipe(Effect.scoped), 120_000)

  it.live(
    "unreachable, not async-ops, and no answer: one line each, exit 1, never a hang",
    () =>
      Effect.gen(function*() {
        const closed = yield* Effect.scoped(server(() => {}))
        const unreachable = yield* runCli(["top", closed, "--once"], { timeout: 60_000 })
        expect([unreachable.code, unreachable.stderr]).toEqual([
          1,
          `async-ops: ${closed} is unreachable: ECONNREFUSED\n`
        ])

        const other = yield* server((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{}"))
        const notOurs = yield* runCli(["top", other, "--json"], { timeout: 60_000 })
        expect([notOurs.code, notOurs.stderr]).toEqual([1, `async-ops: ${other} is not an async-ops service\n`])

        const missing = yield* server((_req, res) => res.writeHead(404).end("not found"))
        const notFound = yield* runCli(["top", missing, "--once"], { timeout: 60_000 })
        expect([notFound.code, notFound.stderr]).toEqual([
          1,
          `async-ops: ${missing} is not an async-ops service: GET /debug/async-ops answered 404\n`
        ])

        const silent = yield* server(() => {})
        const hung = yield* runCli(["top", silent, "--once", "--timeout", "300"], { timeout: 60_000 })
        expect([hung.code, hung.stderr]).toEqual([1, `async-ops: ${silent} is unreachable: no answer within 300 ms\n`])

        const bad = yield* runCli(["top", "ftp://x", "--once"], { timeout: 60_000 })
        expect([bad.code, bad.stderr]).toEqual([2, "async-ops: not an http(s) URL: ftp://x\n"])
      }).pipe(Effect.scoped),
    120_000
  )
})
