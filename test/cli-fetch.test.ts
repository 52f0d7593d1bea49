/**
 * `async-ops fetch` as a real process against a FaultServer running in the test process (127.0.0.1): exactly one
 * JSON Lines record per input (malformed lines included), input order with `--ordered` and stdin input, and a run
 * stopped by SIGINT half-way then finished with `--resume` without fetching anything twice.
 */
import { FaultServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const bin = join(root, "packages/cli/src/bin.ts")

interface Outcome {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

class SpawnError extends Data.TaggedError("SpawnError")<{ readonly message: string }> {}

interface Running {
  readonly child: ChildProcess
  readonly done: Effect.Effect<Outcome, SpawnError>
}

/** Starts the CLI; `done` waits for its exit (and kills it if the waiting fiber is interrupted). */
const start = (args: ReadonlyArray<string>, stdin?: string, stdoutTo?: number): Running => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    stdio: ["pipe", stdoutTo ?? "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin!.end(stdin ?? "")
  const done = Effect.callback<Outcome, SpawnError>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode, stdout, stderr }))
      return
    }
    child.once("error", (e) => resume(Effect.fail(new SpawnError({ message: e.message }))))
    child.once("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(
    Effect.timeoutOrElse({
      duration: "90 seconds",
      orElse: () => Effect.fail(new SpawnError({ message: `timed out: ${args.join(" ")}\n${stderr}` }))
    })
  )
  return { child, done }
}

const cli = (args: ReadonlyArray<string>, stdin?: string) => Effect.suspend(() => start(args, stdin).done)

interface Record {
  readonly line: number
  readonly url: string
  readonly ok: boolean
  readonly status: number | null
  readonly error: string | null
  readonly bytes: number
  readonly ms: number
  readonly attempts: number
}

const parseRecords = (text: string): Array<Record> =>
  text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record)

const tempDir = () => mkdtempSync(join(tmpdir(), "async-ops-cli-fetch-"))

describe("async-ops fetch (process)", () => {
  it.live("writes exactly one record per input, malformed lines and faults included", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: {
          "/ok/*": { latency: 1 },
          // one route per flaky URL: its first request gets a 503, the retry a 200
          ...Object.fromEntries(
            Array.from(
              { length: 4 },
              (_, i) => [`/flaky/${i}`, { sequence: [503, 200], sequenceEnd: "repeat-last" as const }]
            )
          ),
          "/reset/*": { reply: "reset" },
          "/big/*": { reply: { kind: "large", bytes: 4096 } }
        }
      })
      const dir = tempDir()
      const lines = ["# a comment", "", "not a url", "ftp://example.test/x", "http://", "   "]
      for (let i = 0; i < 30; i++) lines.push(server.url(`/ok/${i}`))
      for (let i = 0; i < 4; i++) lines.push(server.url(`/flaky/${i}`))
      lines.push(server.url("/reset/1"), server.url("/nowhere"), server.url("/big/1"), server.url("/ok/0"))
      writeFileSync(join(dir, "urls.txt"), lines.join("\r\n") + "\n")
      const out = join(dir, "out.jsonl")
      const o = yield* cli([
        "fetch",
        join(dir, "urls.txt"),
        "--out",
        out,
        "--retries",
        "2",
        "--timeout",
        "5s",
        "--max-bytes",
        "1024",
        "-H",
        "x-test: yes"
      ])
      expect(o.code).toBe(0)
      expect(o.stderr).toBe("")
      expect(o.stdout).toBe("")
      const records = parseRecords(readFileSync(out, "utf8"))
      const expected = lines.flatMap((l, i) => l.trim() === "" || l.startsWith("#") ? [] : [[i + 1, l.trim()] as const])
      expect(records.map((r) => [r.line, r.url] as const).toSorted((a, b) => a[0] - b[0])).toStrictEqual(expected)
      const byUrl = (url: string) => records.filter((r) => r.url === url)
      for (const bad of ["not a url", "ftp://example.test/x", "http://"]) {
        expect(byUrl(bad)).toMatchObject([{ ok: false, error: "MalformedUrlError", status: null, attempts: 0 }])
      }
      expect(byUrl(server.url("/ok/1"))).toMatchObject([{ ok: true, status: 200, bytes: 2, attempts: 1 }])
      expect(byUrl(server.url("/ok/0"))).toHaveLength(2) // a duplicate line gets its own record
      expect(byUrl(server.url("/nowhere"))).toMatchObject([{ ok: false, status: 404, error: "StatusError" }])
      expect(byUrl(server.url("/reset/1"))).toMatchObject([{ ok: false, error: "ConnectionLostError", attempts: 3 }])
      expect(byUrl(server.url("/big/1"))).toMatchObject([{ ok: false, error: "BodyTooLargeError", attempts: 1 }])
      for (let i = 0; i < 4; i++) {
        expect(byUrl(server.url(`/flaky/${i}`))).toMatchObject([{ ok: true, status: 200, attempts: 2 }])
      }
      const requests = yield* server.requests
      expect(requests.every((r) => r.headers["x-test"] === "yes")).toBe(true)
    }).pipe(Effect.scoped), 120_000)

  it.live("--ordered reads stdin and writes stdout in input order", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/r/*": { latency: { kind: "uniform", min: 0, max: 30 } } }
      })
      const lines = Array.from({ length: 25 }, (_, i) => server.url(`/r/${i}`))
      lines.splice(7, 0, "::bad::")
      const o = yield* cli(["fetch", "-", "--ordered", "-c", "10"], lines.join("\n"))
      expect(o.code).toBe(0)
      expect(o.stderr).toBe("")
      const records = parseRecords(o.stdout)
      expect(records.map((r) => r.line)).toStrictEqual(lines.map((_, i) => i + 1))
      expect(records.map((r) => r.url)).toStrictEqual(lines)
      expect(records[7]).toMatchObject({ ok: false, error: "MalformedUrlError" })
    }).pipe(Effect.scoped), 120_000)

  it.live("an empty input writes nothing and exits 0", () =>
    Effect.gen(function*() {
      const o = yield* cli(["fetch", "-"], "# nothing here\n\n")
      expect(o).toMatchObject({ code: 0, stdout: "", stderr: "" })
    }), 120_000)

  it.live(
    "SIGINT half-way drains and exits 130; --resume finishes with one record per input, none fetched twice",
    () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/item/*": { latency: 150 } } })
        const dir = tempDir()
        const urls = join(dir, "urls.txt")
        const out = join(dir, "out.jsonl")
        const lines = Array.from({ length: 60 }, (_, i) => server.url(`/item/${i}`))
        lines.splice(10, 0, "not a url", "# comment")
        writeFileSync(urls, lines.join("\n") + "\n")
        const inputs = lines.flatMap((l, i) => l.startsWith("#") ? [] : [i + 1])

        const first = start(["fetch", urls, "--out", out, "-c", "4", "--per-host", "4", "--grace", "5s"])
        // wait for a few records on disk, then interrupt
        yield* Effect.sync(() => existsSync(out) ? parseRecords(readFileSync(out, "utf8")).length : 0).pipe(
          Effect.repeat({ until: (n) => n >= 8, schedule: Schedule.spaced("20 millis") }),
          Effect.timeout("60 seconds")
        )
        first.child.kill("SIGINT")
        const stopped = yield* first.done
        expect(stopped.code).toBe(130)
        expect(stopped.stderr).toMatch(
          /^async-ops: stopped by SIGINT: \d+ records written, \d+ inputs left for --resume, 0 of them cut off at the grace deadline \(they may have reached the server; --resume fetches them again\)\n$/
        )
        const before = parseRecords(readFileSync(out, "utf8"))
        expect(before.length).toBeGreaterThanOrEqual(8)
        expect(before.length).toBeLessThan(inputs.length)
        // what was in flight at the signal was drained, not dropped: every request the server answered is recorded
        const answered = (yield* server.requests).filter((r) => r.state === "completed").map((r) => r.url)
        const recordedPaths = before.filter((r) => r.ok).map((r) => new URL(r.url).pathname)
        expect(recordedPaths.toSorted()).toStrictEqual(answered.toSorted())
        // a cut-off last line is dropped and its input fetched again
        appendFileSync(out, `{"line":${inputs.at(-1)},"url":"`)

        const resumed = yield* cli(["fetch", urls, "--out", out, "--resume", "-c", "16", "--per-host", "16"])
        expect(resumed.code).toBe(0)
        expect(resumed.stderr).toBe("")
        const after = parseRecords(readFileSync(out, "utf8"))
        expect(after.slice(0, before.length)).toStrictEqual(before)
        expect(after.map((r) => r.line).toSorted((a, b) => a - b)).toStrictEqual(inputs)
        // no URL was fetched again after its successful record: one request per URL in all
        const counts = new Map<string, number>()
        for (const r of yield* server.requests) counts.set(r.url, (counts.get(r.url) ?? 0) + 1)
        expect(Array.from(counts.values()).every((n) => n === 1)).toBe(true)
        expect(counts.size).toBe(60)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live("SIGTERM exits 143 after flushing the records of finished requests", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/item/*": { latency: 100 } } })
      const dir = tempDir()
      const urls = join(dir, "urls.txt")
      const out = join(dir, "out.jsonl")
      writeFileSync(urls, Array.from({ length: 100 }, (_, i) => server.url(`/item/${i}`)).join("\n"))
      const run = start(["fetch", urls, "-o", out, "-c", "2", "--per-host", "2"])
      yield* server.awaitRequests(4)
      run.child.kill("SIGTERM")
      const stopped = yield* run.done
      expect(stopped.code).toBe(143)
      expect(stopped.stderr).toMatch(/stopped by SIGTERM/)
      const records = parseRecords(readFileSync(out, "utf8"))
      const completed = (yield* server.requests).filter((r) => r.state === "completed")
      expect(records.length).toBe(completed.length)
      expect(records.length).toBeGreaterThanOrEqual(4)
    }).pipe(Effect.scoped), 120_000)

  it.live(
    "a request cut off at the grace deadline is counted in the stop line and fetched again by --resume",
    () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/slow/*": { latency: 3000 }, "/fast/*": {} } })
        const dir = tempDir()
        const urls = join(dir, "urls.txt")
        const out = join(dir, "out.jsonl")
        const lines = [
          ...Array.from({ length: 3 }, (_, i) => server.url(`/fast/${i}`)),
          ...Array.from({ length: 3 }, (_, i) => server.url(`/slow/${i}`))
        ]
        writeFileSync(urls, lines.join("\n") + "\n")
        const run = start(["fetch", urls, "-o", out, "-c", "6", "--per-host", "6", "--grace", "100ms"])
        yield* server.awaitRequests(6)
        yield* Effect.sync(() => existsSync(out) ? parseRecords(readFileSync(out, "utf8")).length : 0).pipe(
          Effect.repeat({ until: (n) => n >= 3, schedule: Schedule.spaced("20 millis") }),
          Effect.timeout("60 seconds")
        )
        run.child.kill("SIGINT")
        const stopped = yield* run.done
        expect(stopped.code).toBe(130)
        expect(stopped.stderr).toContain("3 records written, 3 inputs left for --resume, 3 of them cut off")
        // the cut-off requests reached the server: --resume sends them again (at least once), the recorded never
        const resumed = yield* cli(["fetch", urls, "-o", out, "--resume", "-c", "6", "--per-host", "6"])
        expect(resumed.code).toBe(0)
        const counts = new Map<string, number>()
        for (const r of yield* server.requests) counts.set(r.path, (counts.get(r.path) ?? 0) + 1)
        expect(Object.fromEntries(counts)).toStrictEqual({
          "/fast/0": 1,
          "/fast/1": 1,
          "/fast/2": 1,
          "/slow/0": 2,
          "/slow/1": 2,
          "/slow/2": 2
        })
        expect(parseRecords(readFileSync(out, "utf8")).map((r) => r.line).toSorted()).toStrictEqual([1, 2, 3, 4, 5, 6])
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a closed stdout (| head) ends the run quietly: no trace, exit 141, in-flight work stopped",
    () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/r/*": { latency: 2 } }, maxRecorded: 10 })
        const n = 20_000
        const lines = Array.from({ length: n }, (_, i) => server.url(`/r/${i}`))
        const run = start(["fetch", "-", "-q", "-c", "8", "--per-host", "8"], lines.join("\n"))
        // the reader takes the first records and closes its end, as `head -2` does
        yield* Effect.callback<void>((resume) => {
          run.child.stdout!.once("data", () => {
            run.child.stdout!.destroy()
            resume(Effect.void)
          })
        })
        const o = yield* run.done
        expect(o.code).toBe(141)
        expect(o.stderr).toBe("")
        expect((yield* server.stats).total).toBeLessThan(n)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live("a full stdout or --out is one line naming the file and the OS reason, exit 2", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/r/*": {} } })
      const dir = tempDir()
      const urls = join(dir, "urls.txt")
      writeFileSync(urls, Array.from({ length: 5 }, (_, i) => server.url(`/r/${i}`)).join("\n"))
      const full = openSync("/dev/full", "w")
      const toStdout = yield* start(["fetch", urls, "-q"], undefined, full).done
      closeSync(full)
      expect(toStdout.code).toBe(2)
      expect(toStdout.stderr).toBe("async-ops: cannot write to stdout: no space left on device (ENOSPC)\n")
      const toFile = yield* cli(["fetch", urls, "-q", "--out", "/dev/full"])
      expect(toFile.code).toBe(2)
      expect(toFile.stderr).toBe("async-ops: cannot write to /dev/full: no space left on device (ENOSPC)\n")
    }).pipe(Effect.scoped), 120_000)

  it.live(
    "redirects are followed up to --max-redirects; past it, or with 0, the 3xx is recorded as not ok",
    () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: {
            "/hop": { reply: { status: 302, headers: { location: "/target" } } },
            "/loop": { reply: { status: 302, headers: { location: "/loop" } } },
            "/target": { reply: { status: 200, body: "here" } }
          }
        })
        const input = [server.url("/hop"), server.url("/loop")].join("\n")
        const followed = parseRecords((yield* cli(["fetch", "-", "--ordered"], input)).stdout)
        expect(followed).toMatchObject([
          { line: 1, ok: true, status: 200, bytes: 4 },
          { line: 2, ok: false, status: 302, error: "RedirectNotFollowedError" }
        ])
        const off = parseRecords((yield* cli(["fetch", "-", "--ordered", "--max-redirects", "0"], input)).stdout)
        expect(off).toMatchObject([
          { line: 1, ok: false, status: 302, error: "RedirectNotFollowedError" },
          { line: 2, ok: false, status: 302, error: "RedirectNotFollowedError" }
        ])
        const hits = (yield* server.requests).filter((r) => r.path === "/loop").length
        expect(hits).toBe(11 + 1) // the first call: the request and 10 redirects; the second: one request
      }).pipe(Effect.scoped),
    120_000
  )
})
