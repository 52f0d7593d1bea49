import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Result, Stream } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Fetch from "../src/Fetch.ts"
import * as internal from "../src/internal/fetch.ts"
import * as Meter from "../src/internal/meter.ts"

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success, got ${String(r.failure)}`)
  return r.success
}
const err = <A, E>(r: Result.Result<A, E>): E => {
  if (Result.isSuccess(r)) throw new Error("expected failure")
  return r.failure
}

describe("Fetch.parseUrlList", () => {
  it("keeps line numbers and skips comments, blank lines and surrounding whitespace", () => {
    expect(ok(Fetch.parseUrlList("# seeds\nhttp://a.test/1\n\n  http://a.test/2  \n\t\n#x\nnot a url"))).toStrictEqual([
      { line: 2, url: "http://a.test/1" },
      { line: 4, url: "http://a.test/2" },
      { line: 7, url: "not a url" }
    ])
  })

  it("accepts CRLF line ends, a missing final newline and a UTF-8 byte order mark", () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("http://a.test/é\r\nhttp://b.test/")])
    expect(ok(Fetch.parseUrlList(bytes))).toStrictEqual([
      { line: 1, url: "http://a.test/é" },
      { line: 2, url: "http://b.test/" }
    ])
  })

  it("gives no entries for an empty input", () => {
    expect(ok(Fetch.parseUrlList(""))).toStrictEqual([])
    expect(ok(Fetch.parseUrlList("\n\n# only comments\n"))).toStrictEqual([])
  })

  it("fails naming the line that is not valid UTF-8", () => {
    const bytes = new Uint8Array([...new TextEncoder().encode("http://a.test/\n# ok\nhttp://"), 0xc3, 0x28, 0x0a])
    const e = err(Fetch.parseUrlList(bytes))
    expect(e).toBeInstanceOf(Fetch.UnreadableLineError)
    expect(e.line).toBe(3)
    expect(e.message).toBe("line 3 is unreadable: not valid UTF-8")
  })

  it("fails on a NUL byte", () => {
    expect(err(Fetch.parseUrlList("http://a.test/\u0000x")).message).toBe("line 1 is unreadable: contains a NUL byte")
  })
})

describe("Fetch.readResume", () => {
  const entries = [
    { line: 1, url: "http://a.test/1" },
    { line: 3, url: "http://a.test/3" },
    { line: 4, url: "http://a.test/1" }
  ]
  const rec = (line: number, url: string) =>
    Fetch.encodeRecord({ line, url, ok: true, status: 200, error: null, message: null, bytes: 0, ms: 1, attempts: 1 })

  it("collects the recorded input lines of complete records", () => {
    const text = rec(4, "http://a.test/1") + "\n" + rec(1, "http://a.test/1")
    const state = ok(Fetch.readResume(text, entries))
    expect(Array.from(state.done).toSorted()).toStrictEqual([1, 4])
    expect(state).toMatchObject({ validBytes: new TextEncoder().encode(text).length, truncatedTail: false })
  })

  it("ignores a cut-off last line and reports where the complete records end", () => {
    const complete = rec(3, "http://a.test/3")
    const state = ok(Fetch.readResume(complete + "{\"line\":1,\"url\":\"http://a", entries))
    expect(Array.from(state.done)).toStrictEqual([3])
    expect(state.validBytes).toBe(complete.length)
    expect(state.truncatedTail).toBe(true)
  })

  it("treats an empty file as nothing done", () => {
    expect(ok(Fetch.readResume("", entries))).toStrictEqual({ done: new Set(), validBytes: 0, truncatedTail: false })
  })

  it("fails on a complete line that is not JSON", () => {
    const e = err(Fetch.readResume(rec(1, "http://a.test/1") + "garbage\n", entries))
    expect(e).toBeInstanceOf(Fetch.ResumeMismatchError)
    expect(e.message).toBe("--resume: output line 2 is not a JSON record")
  })

  it("fails on a record for another input", () => {
    expect(err(Fetch.readResume(rec(3, "http://other.test/"), entries)).message).toBe(
      "--resume: output line 1 is not for input line 3 of this input"
    )
    expect(err(Fetch.readResume(rec(2, "http://a.test/1"), entries)).line).toBe(1)
    expect(err(Fetch.readResume("{\"url\":\"x\"}\n", entries)).message).toMatch(/has no input line number/)
  })
})

describe("Fetch.encodeRecord", () => {
  it("writes one JSON line with keys in a fixed order and ms to 0.1", () => {
    const line = Fetch.encodeRecord({
      attempts: 3,
      ms: 12.3456,
      bytes: 9,
      message: "GET http://a.test/: status 503",
      error: "StatusError",
      status: 503,
      ok: false,
      url: "http://a.test/",
      line: 7
    })
    expect(line).toBe(
      `{"line":7,"url":"http://a.test/","ok":false,"status":503,"error":"StatusError",` +
        `"message":"GET http://a.test/: status 503","bytes":9,"ms":12.3,"attempts":3}\n`
    )
    expect(line.indexOf("\n")).toBe(line.length - 1)
  })

  it("escapes URLs that hold quotes or control characters, so the line stays one line", () => {
    const line = Fetch.encodeRecord({
      line: 1,
      url: "http://a.test/\"\u2028\r",
      ok: false,
      status: null,
      error: "MalformedUrlError",
      message: null,
      bytes: 0,
      ms: 0,
      attempts: 0
    })
    expect(line.split("\n")).toHaveLength(2)
    expect(JSON.parse(line).url).toBe("http://a.test/\"\u2028\r")
  })
})

describe("fetch options", () => {
  const base: internal.FetchOptions = {
    input: "-",
    out: undefined,
    ordered: false,
    concurrency: 10,
    perHost: 2,
    timeout: "2s",
    retries: 1,
    rate: undefined,
    maxBytes: 100,
    headers: ["Accept: text/plain", "x-a:b:c"],
    method: "get",
    resume: false,
    quiet: true,
    grace: "0",
    maxRedirects: 10
  }

  it.effect("parses durations, headers and the method", () =>
    Effect.gen(function*() {
      const r = yield* internal.resolveOptions(base)
      expect(Duration.toMillis(r.timeout)).toBe(2000)
      expect(Duration.toMillis(r.grace)).toBe(0)
      expect(r.headers).toStrictEqual({ Accept: "text/plain", "x-a": "b:c" })
      expect(r.method).toBe("GET")
    }))

  it("reads durations in ms, s, m and Effect's words", () => {
    const ms = (v: string) => Duration.toMillis(ok(internal.parseDuration("timeout", v)))
    expect([ms("250"), ms("250ms"), ms("1.5s"), ms("2m"), ms("3 seconds")]).toStrictEqual([
      250,
      250,
      1500,
      120_000,
      3000
    ])
    expect(err(internal.parseDuration("timeout", "-1s")).message).toBe("--timeout must not be negative, got -1s")
    expect(err(internal.parseDuration("timeout", "soon")).message).toBe(
      "--timeout must be a duration like 500ms, 2s or 1m, got soon"
    )
  })

  it.effect("rejects every bad value with a one-line usage error", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<readonly [Partial<internal.FetchOptions>, string]> = [
        [{ concurrency: 0 }, "--concurrency must be an integer >= 1, got 0"],
        [{ concurrency: 1.5 }, "--concurrency must be an integer >= 1, got 1.5"],
        [{ perHost: -2 }, "--per-host must be an integer >= 1, got -2"],
        [{ retries: -1 }, "--retries must be an integer from 0 to 100, got -1"],
        [{ retries: 1_000_000_000 }, "--retries must be an integer from 0 to 100, got 1000000000"],
        [{ maxRedirects: -1 }, "--max-redirects must be an integer from 0 to 100, got -1"],
        [{ maxRedirects: 101 }, "--max-redirects must be an integer from 0 to 100, got 101"],
        [{ timeout: "-5s" }, "--timeout must not be negative, got -5s"],
        [{ rate: 0 }, "--rate must be an integer >= 1, got 0"],
        [{ maxBytes: -1 }, "--max-bytes must be an integer >= 0, got -1"],
        [{ timeout: "0" }, "--timeout must be > 0"],
        [{ headers: ["nope"] }, `--header must look like "Name: value", got "nope"`],
        [{ method: "BREW" }, "--method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got BREW"],
        [{ resume: true }, "--resume needs --out <file>"]
      ]
      for (const [patch, message] of bad) {
        const error = yield* Effect.flip(internal.resolveOptions({ ...base, ...patch }))
        expect(error._tag).toBe("UsageError")
        expect(error.message).toBe(message)
      }
    }))
})

describe("fetch memory", () => {
  // `gc` for this test only: the check is about what stays reachable, so it must collect what is not
  v8.setFlagsFromString("--expose-gc")
  const gc = vm.runInNewContext("gc") as () => void
  // Array buffers are swept on a background thread after a collection: on a loaded machine `external` can still
  // count freed bodies right after gc(), so collect, let a turn pass, and collect again before reading.
  const live: Effect.Effect<number> = Effect.promise(async () => {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    const m = process.memoryUsage()
    return m.heapUsed + m.external
  })

  it.live(
    "keeps no body of a finished request while the batch runs (what resume needs is the line number)",
    () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.FaultServer
        const n = 120
        const todo = Array.from({ length: n }, (_, i) => ({ line: i + 1, url: server.url(`/big?i=${i}`) }))
        const client = yield* Layer.build(Meter.layer({ maxConnectionsPerHost: 4 }, Meter.makeCounters())).pipe(
          Effect.map((context) => Context.get(context, HttpResilience.ResilientClient))
        )
        const batch = { inFlight: 0 }
        let seen = 0
        let baseline = 0
        const late: Array<number> = []
        yield* internal.records(todo, client, new WeakMap(), {
          concurrency: 4,
          maxRedirects: 0,
          method: "GET",
          headers: {}
        }, batch).pipe(
          Stream.runForEach((finished) =>
            Effect.gen(function*() {
              expect(finished.ok).toBe(true)
              seen++
              if (seen === 10) baseline = yield* live
              if (seen > n - 5) late.push((yield* live) - baseline)
            })
          )
        )
        expect(seen).toBe(n)
        expect(batch.inFlight).toBe(0)
        // 110 more bodies of 1 MiB went through: kept, they would add 110 MiB to every late sample; dropped, only
        // what is in flight remains, and on a loaded machine that can spike in one sample (socket buffers of the
        // in-process server), so the least of the last five samples is compared
        expect(late.length).toBe(5)
        expect(Math.min(...late)).toBeLessThan(40 * 1024 * 1024)
      }).pipe(
        Effect.scoped,
        Effect.provide(FaultServer.layer({ routes: { "/big": { reply: { kind: "large", bytes: 1024 * 1024 } } } }))
      ),
    120_000
  )
})

describe("fetch --resume onto an existing output", () => {
  const entries = [
    { line: 1, url: "http://a.test/1" },
    { line: 2, url: "http://a.test/2" },
    { line: 3, url: "http://a.test/3" }
  ]
  const rec = (line: number) =>
    Fetch.encodeRecord({
      line,
      url: `http://a.test/${line}`,
      ok: true,
      status: 200,
      error: null,
      message: null,
      bytes: 0,
      ms: 1.25,
      attempts: 1
    })

  it.effect("keeps the complete records byte for byte, removes the cut-off tail and appends after them", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "async-ops-resume-"))
      const out = join(dir, "out.jsonl")
      // records as another version might have written them: spacing and key order differ from ours, kept as they are
      const complete = rec(2) + `{ "url": "http://a.test/1", "line": 1, "ok": false }\n`
      writeFileSync(out, complete + `{"line":3,"url":"http://a.te`)
      const { done, writer } = yield* internal.openOutput(out, true, entries)
      expect(Array.from(done).toSorted()).toStrictEqual([1, 2])
      expect(readFileSync(out, "utf8")).toBe(complete)
      yield* writer.write(rec(3))
      expect(readFileSync(out, "utf8")).toBe(complete + rec(3))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a missing output is nothing done, and an output without a cut-off tail is not touched", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "async-ops-resume-"))
      const missing = yield* internal.prepareResume(join(dir, "none.jsonl"), entries)
      expect(missing.size).toBe(0)
      const out = join(dir, "out.jsonl")
      writeFileSync(out, rec(3))
      expect(Array.from(yield* internal.prepareResume(out, entries))).toStrictEqual([3])
      expect(readFileSync(out, "utf8")).toBe(rec(3))
    }).pipe(Effect.provide(NodeServices.layer)))
})
