import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Transfer from "@async-ops/http/Transfer"
import { FaultServer } from "@async-ops/testing"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, FileSystem, Layer, Schedule, Scope, Stream, SubscriptionRef } from "effect"
import type { HttpClient } from "effect/http"
import * as Crypto from "node:crypto"
import * as v8 from "node:v8"
import * as vm from "node:vm"

const MB = 1024 * 1024

/** A fresh undici agent per test (layers are memoized across `provide`), so pooled sockets never cross tests. */
const Live = Layer.fresh(Layer.merge(NodeHttpClient.layerUndici, NodeFileSystem.layer))

/** Runs a test body in a scope, with a fresh HTTP client and the Node file system. */
const live = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | FileSystem.FileSystem | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(Live))

/** The FaultServer's `large` body: byte i is ALPHABET[(i % chunkBytes) % 37]. */
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz\n"
const patternSha256 = (bytes: number, chunkBytes = 64 * 1024): string => {
  const chunk = Buffer.alloc(Math.min(bytes, chunkBytes))
  for (let i = 0; i < chunk.length; i++) chunk[i] = ALPHABET.charCodeAt(i % ALPHABET.length)
  const hash = Crypto.createHash("sha256")
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    hash.update(bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent))
  }
  return hash.digest("hex")
}

const sha256 = (data: Uint8Array | string) => Crypto.createHash("sha256").update(data).digest("hex")

const fileSha256 = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const hash = Crypto.createHash("sha256")
    yield* Stream.runForEach(fs.stream(path), (chunk) => Effect.sync(() => hash.update(chunk)))
    return hash.digest("hex")
  })

/** Sockets and file requests/handles this process holds now. */
const WATCHED = new Set(["TCPSocketWrap", "FSReqCallback", "FSReqPromise", "FileHandle"])
const handles = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) {
    if (WATCHED.has(name)) counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}
/** What a test should be back to: the sockets open now, and no file request or handle in flight. */
const baseline = (): Record<string, number> => {
  const sockets = handles()["TCPSocketWrap"]
  return sockets === undefined ? {} : { TCPSocketWrap: sockets }
}
const turn = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})
/**
 * Closed handles leave libuv in its close phase: let event-loop turns pass (at most 200, no timer) until the counts
 * are back to `expected`, and return what is there then.
 */
const handlesAfter = (expected: Record<string, number>) =>
  Effect.gen(function*() {
    let now = handles()
    for (let i = 0; i < 200 && JSON.stringify(now) !== JSON.stringify(expected); i++) {
      yield* turn
      now = handles()
    }
    return now
  })

const listDir = (dir: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(dir))

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "transfer-" }))

const serverWith = (routes: FaultServer.Options["routes"]) => FaultServer.make({ routes })

const gc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
})()

describe("Transfer.download", () => {
  it.live(
    "downloads 200 MB in constant memory, byte for byte, and leaves no temporary file",
    () =>
      live(
        Effect.gen(function*() {
          const dir = yield* tempDir
          const size = 200 * MB
          const server = yield* serverWith({
            "/big": { reply: { kind: "large", bytes: size } },
            "/warm": { reply: { kind: "large", bytes: 4 * MB } }
          })
          // warm the JIT, the agent and the file system path first, then measure from a collected heap
          yield* Transfer.download(server.url("/warm"), `${dir}/warm.bin`)
          gc()
          const before = process.memoryUsage()
          let peakRss = before.rss
          let peakRetained = 0
          let samples = 0
          let next = 0
          const result = yield* Transfer.download(server.url("/big"), `${dir}/big.bin`, {
            progress: (p) =>
              Effect.sync(() => {
                // every 16 MiB: the RSS now, and what is still reachable (heap + buffers) after a full collection
                if (p.bytes < next) return
                next += 16 * MB
                peakRss = Math.max(peakRss, process.memoryUsage.rss())
                gc()
                const m = process.memoryUsage()
                peakRetained = Math.max(
                  peakRetained,
                  m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers
                )
                samples++
              })
          })
          expect(result).toMatchObject({ path: `${dir}/big.bin`, bytes: size, status: 200 })
          expect(samples).toBeGreaterThanOrEqual(12)
          // what stays reachable is the buffers in flight (observed 0-33 MiB on a quiet machine: the transport reads
          // ahead while the forced collection stalls the loop, then drains; more on a loaded one), never a share that
          // grows with the body: a buffering download would hold all 200 MiB, so the bound is under half of it
          expect(peakRetained).toBeLessThan(96 * MB)
          expect(peakRss - before.rss).toBeLessThan(128 * MB)
          const fs = yield* FileSystem.FileSystem
          expect(Number((yield* fs.stat(result.path)).size)).toBe(size)
          expect(yield* fileSha256(result.path)).toBe(patternSha256(size))
          expect((yield* listDir(dir)).toSorted()).toEqual(["big.bin", "warm.bin"])
        })
      ),
    30_000
  )

  it.live("reports progress to a SubscriptionRef, ending at the body size, and keeps the connection alive", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/f": { reply: { kind: "large", bytes: 300_000, chunkBytes: 100_000 } } })
        const ref = yield* SubscriptionRef.make<Transfer.Progress>({ bytes: -1, total: undefined })
        const seen: Array<number> = []
        const result = yield* Transfer.download(server.url("/f"), `${dir}/f.bin`, {
          progress: (p) => Effect.andThen(Effect.sync(() => seen.push(p.bytes)), SubscriptionRef.set(ref, p))
        })
        expect(result.bytes).toBe(300_000)
        expect(yield* SubscriptionRef.get(ref)).toEqual({ bytes: 300_000, total: 300_000 })
        expect(seen[0]).toBe(0)
        expect(seen).toEqual(seen.toSorted((a, b) => a - b))
        const direct = yield* SubscriptionRef.make<Transfer.Progress>({ bytes: -1, total: undefined })
        yield* Transfer.download(server.url("/f"), `${dir}/g.bin`, { progress: direct })
        expect(yield* SubscriptionRef.get(direct)).toEqual({ bytes: 300_000, total: 300_000 })
        // a download read to the end gives its connection back to the pool: both came on connection 1
        expect((yield* server.requests).map((r) => r.connection)).toEqual([1, 1])
      })
    ))

  it.live("a Content-Length over maxBytes fails before the body is read: no file, no socket, no handle", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/big": { reply: { kind: "large", bytes: 50 * MB } } })
        const before = baseline()
        const error = yield* Effect.flip(Transfer.download(server.url("/big"), `${dir}/big.bin`, { maxBytes: MB }))
        expect(error).toMatchObject({ _tag: "BodyTooLargeError", limit: MB, received: 50 * MB })
        yield* server.awaitIdle
        expect((yield* server.requests)[0]?.state).toBe("aborted")
        expect(yield* handlesAfter(before)).toEqual(before)
        expect(yield* listDir(dir)).toEqual([])
      })
    ))

  it.live("a chunked body over maxBytes fails while streaming: reading stops, no file, no socket, no handle", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/big": { reply: { kind: "large", bytes: 50 * MB, chunked: true } } })
        const before = baseline()
        const error = yield* Effect.flip(Transfer.download(server.url("/big"), `${dir}/big.bin`, { maxBytes: MB }))
        expect(error._tag).toBe("BodyTooLargeError")
        if (error._tag !== "BodyTooLargeError") return
        expect(error.limit).toBe(MB)
        expect(error.received).toBeGreaterThan(MB)
        expect(error.received).toBeLessThan(2 * MB)
        yield* server.awaitIdle
        expect((yield* server.requests)[0]?.state).toBe("aborted")
        expect(yield* handlesAfter(before)).toEqual(before)
        expect(yield* listDir(dir)).toEqual([])
      })
    ))

  it.live("interrupted while streaming: no partial file, no temporary file, no socket, no file handle", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/big": { reply: { kind: "large", bytes: 50 * MB } } })
        const before = baseline()
        const midway = yield* Deferred.make<void>()
        const fiber = yield* Transfer.download(server.url("/big"), `${dir}/big.bin`, {
          // past 1 MiB the download parks in its progress callback, with the temp file open and the body half read
          progress: (p) =>
            p.bytes > MB ? Effect.andThen(Deferred.succeed(midway, undefined), Effect.never) : Effect.void
        }).pipe(Effect.forkChild({ startImmediately: true }))
        yield* Deferred.await(midway)
        expect((yield* listDir(dir)).map((name) => name.replace(/\.[0-9a-f]{8}\.part$/, ".RANDOM.part"))).toEqual([
          "big.bin.RANDOM.part"
        ])
        yield* Fiber.interrupt(fiber)
        expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
        yield* server.awaitIdle
        expect((yield* server.requests)[0]?.state).toBe("aborted")
        expect(yield* handlesAfter(before)).toEqual(before)
        expect(yield* listDir(dir)).toEqual([])
      })
    ))

  it.live("interrupted while waiting for the response head: the request is aborted and the temp file removed", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/hang": { reply: "hang" } })
        const before = baseline()
        const fiber = yield* Transfer.download(server.url("/hang"), `${dir}/x.bin`).pipe(
          Effect.forkChild({ startImmediately: true })
        )
        yield* server.awaitRequests(1)
        yield* Fiber.interrupt(fiber)
        yield* server.awaitIdle
        expect((yield* server.requests)[0]?.state).toBe("aborted")
        expect(yield* handlesAfter(before)).toEqual(before)
        expect(yield* listDir(dir)).toEqual([])
      })
    ))

  it.live("overwrite: false refuses an existing file before any request; overwrite: true replaces it", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        const server = yield* serverWith({ "/f": { reply: { body: "new content" } } })
        yield* fs.writeFileString(`${dir}/f.txt`, "old content")
        const error = yield* Effect.flip(Transfer.download(server.url("/f"), `${dir}/f.txt`))
        expect(error).toMatchObject({ _tag: "TargetExistsError", path: `${dir}/f.txt` })
        expect((yield* server.stats).total).toBe(0)
        expect(yield* fs.readFileString(`${dir}/f.txt`)).toBe("old content")
        const result = yield* Transfer.download(server.url("/f"), `${dir}/f.txt`, { overwrite: true })
        expect(result.bytes).toBe(11)
        expect(yield* fs.readFileString(`${dir}/f.txt`)).toBe("new content")
        expect(yield* listDir(dir)).toEqual(["f.txt"])
      })
    ))

  it.live("a target that appears during the download is not replaced (TargetExistsError at the rename)", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        const server = yield* serverWith({ "/f": { reply: { kind: "large", bytes: 1000 } } })
        const error = yield* Effect.flip(Transfer.download(server.url("/f"), `${dir}/f.bin`, {
          progress: (p) => p.bytes === 1000 ? Effect.orDie(fs.writeFileString(`${dir}/f.bin`, "theirs")) : Effect.void
        }))
        expect(error).toMatchObject({ _tag: "TargetExistsError", path: `${dir}/f.bin` })
        expect(yield* fs.readFileString(`${dir}/f.bin`)).toBe("theirs")
        expect(yield* listDir(dir)).toEqual(["f.bin"])
      })
    ))

  it.live("a 404 fails with StatusError carrying the body; a cut connection with ConnectionLostError; no file either way", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/cut": { reply: { kind: "reset", afterBytes: 5000 } } })
        const missing = yield* Effect.flip(Transfer.download(server.url("/missing"), `${dir}/a.bin`))
        expect(missing).toMatchObject({ _tag: "StatusError", status: 404, body: "Not Found" })
        const cut = yield* Effect.flip(Transfer.download(server.url("/cut"), `${dir}/b.bin`))
        expect(cut._tag).toBe("ConnectionLostError")
        const refused = yield* Effect.flip(Transfer.download("http://127.0.0.1:1/x", `${dir}/c.bin`))
        expect(refused).toMatchObject({ _tag: "ConnectError", code: "ECONNREFUSED" })
        expect(yield* listDir(dir)).toEqual([])
      })
    ))

  it.live("retries transient failures only when asked", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({
          "/once": { sequence: [503, { kind: "large", bytes: 1000 }] },
          "/twice": { sequence: [503, { kind: "large", bytes: 1000 }] },
          "/gone": { reply: 404 }
        })
        const plain = yield* Effect.flip(Transfer.download(server.url("/once"), `${dir}/a.bin`))
        expect(plain).toMatchObject({ _tag: "StatusError", status: 503 })
        const retried = yield* Transfer.download(server.url("/twice"), `${dir}/b.bin`, { retry: Schedule.recurs(2) })
        expect(retried.bytes).toBe(1000)
        const notTransient = yield* Effect.flip(
          Transfer.download(server.url("/gone"), `${dir}/c.bin`, { retry: Schedule.recurs(2) })
        )
        expect(notTransient).toMatchObject({ _tag: "StatusError", status: 404 })
        expect((yield* server.stats).byRoute).toEqual({ "/once": 1, "/twice": 2, "/gone": 1 })
        expect(yield* listDir(dir)).toEqual(["b.bin"])
      })
    ))

  it.live("bad options and URLs fail with InvalidOptionError / MalformedUrlError before any I/O", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/f": {} })
        const url = server.url("/f")
        const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, Transfer.TransferError, any>]> = [
          ["maxBytes", Transfer.download(url, `${dir}/a`, { maxBytes: -1 })],
          ["maxBytes", Transfer.download(url, `${dir}/a`, { maxBytes: Number.NaN })],
          ["maxBytes", Transfer.download(url, `${dir}/a`, { maxBytes: 1.5 })],
          ["path", Transfer.download(url, "")],
          ["overwrite", Transfer.download(url, `${dir}/a`, { overwrite: "yes" as unknown as boolean })],
          ["progress", Transfer.download(url, `${dir}/a`, { progress: 5 as unknown as Transfer.ProgressSink })]
        ]
        for (const [option, effect] of cases) {
          const error = yield* Effect.flip(effect)
          expect(error).toBeInstanceOf(InvalidOptionError)
          expect(error).toMatchObject({ module: "Transfer.download", option })
        }
        for (const bad of ["not a url", "ftp://127.0.0.1/x", "/relative"]) {
          const error = yield* Effect.flip(Transfer.download(bad, `${dir}/a`))
          expect(error).toMatchObject({ _tag: "MalformedUrlError", url: bad })
        }
        const dirAsTarget = yield* Effect.flip(Transfer.download(url, `${dir}/missing/sub/a`))
        expect(dirAsTarget).toMatchObject({ _tag: "FileSystemError", operation: "open", reason: "NotFound" })
        expect((yield* server.stats).total).toBe(0)
        expect(yield* listDir(dir)).toEqual([])
      })
    ))
})

describe("Transfer.upload", () => {
  it.live("multipart: fields and files streamed from disk arrive byte for byte, with an exact Content-Length", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        const server = yield* serverWith({ "/upload": { reply: "sink" } })
        const data = new Uint8Array(3 * MB + 17).map((_, i) => (i * 31 + (i >> 10)) & 255)
        yield* fs.writeFile(`${dir}/data.bin`, data)
        yield* fs.writeFileString(`${dir}/notes.txt`, "hello\n")
        const progress = yield* SubscriptionRef.make<Transfer.Progress>({ bytes: -1, total: undefined })
        const result = yield* Transfer.upload(server.url("/upload"), [
          Transfer.field("title", "Q3 report"),
          Transfer.file("data", `${dir}/data.bin`),
          Transfer.file("notes", `${dir}/notes.txt`, { filename: "n.txt", contentType: "text/plain" })
        ], { progress })
        expect(result.status).toBe(200)
        const report = JSON.parse(result.body) as FaultServer.SinkReport
        expect(report.method).toBe("POST")
        expect(report.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/)
        expect(Number(report.headers["content-length"])).toBe(result.bytes)
        expect(report.bytes).toBe(result.bytes)
        expect(report.parts).toEqual([
          {
            name: "title",
            filename: null,
            contentType: "text/plain",
            bytes: 9,
            sha256: sha256("Q3 report"),
            value: "Q3 report"
          },
          {
            name: "data",
            filename: "data.bin",
            contentType: "application/octet-stream",
            bytes: data.length,
            sha256: sha256(data),
            value: null
          },
          {
            name: "notes",
            filename: "n.txt",
            contentType: "text/plain",
            bytes: 6,
            sha256: sha256("hello\n"),
            value: null
          }
        ])
        expect(yield* SubscriptionRef.get(progress)).toEqual({ bytes: result.bytes, total: result.bytes })
      })
    ))

  it.live(
    "a 100 MB file part is streamed from disk: memory stays far below the file size",
    () =>
      live(
        Effect.gen(function*() {
          const dir = yield* tempDir
          const fs = yield* FileSystem.FileSystem
          const size = 100 * MB
          // written in 1 MiB pieces so the test itself never holds the file
          const piece = new Uint8Array(MB).map((_, i) => (i * 7) & 255)
          const hash = Crypto.createHash("sha256")
          yield* Effect.scoped(Effect.gen(function*() {
            const file = yield* fs.open(`${dir}/big.bin`, { flag: "w" })
            for (let i = 0; i < size / MB; i++) {
              yield* file.writeAll(piece)
              hash.update(piece)
            }
          }))
          const server = yield* serverWith({ "/upload": { reply: "sink" } })
          gc()
          const before = process.memoryUsage()
          let peakRetained = 0
          let next = 0
          const result = yield* Transfer.upload(server.url("/upload"), [Transfer.file("big", `${dir}/big.bin`)], {
            progress: (p) =>
              Effect.sync(() => {
                if (p.bytes < next) return
                next += 16 * MB
                gc()
                const m = process.memoryUsage()
                peakRetained = Math.max(
                  peakRetained,
                  m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers
                )
              })
          })
          const report = JSON.parse(result.body) as FaultServer.SinkReport
          expect(report.parts).toMatchObject([{ name: "big", bytes: size, sha256: hash.digest("hex") }])
          // a buffering upload would hold the whole 100 MiB file; streaming holds the chunks in flight
          expect(peakRetained).toBeLessThan(64 * MB)
        })
      ),
    30_000
  )

  it.live("an empty list of parts sends an empty multipart body", () =>
    live(
      Effect.gen(function*() {
        const server = yield* serverWith({ "/upload": { reply: "sink" } })
        const result = yield* Transfer.upload(server.url("/upload"), [])
        const report = JSON.parse(result.body) as FaultServer.SinkReport
        expect(report.parts).toEqual([])
        expect(report.bytes).toBe(result.bytes)
      })
    ))

  it.live("uploadFile sends the raw file with Content-Type and Content-Length from stat", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        const server = yield* serverWith({ "/blob": { reply: "sink" } })
        const csv = "id,name\n" + Array.from({ length: 20_000 }, (_, i) => `${i},name-${i}`).join("\n")
        yield* fs.writeFileString(`${dir}/q3.csv`, csv)
        yield* fs.writeFileString(`${dir}/empty.txt`, "")
        const result = yield* Transfer.uploadFile(server.url("/blob"), `${dir}/q3.csv`, {
          method: "put",
          contentType: "text/csv"
        })
        const report = JSON.parse(result.body) as FaultServer.SinkReport
        expect(report).toMatchObject({ method: "PUT", bytes: csv.length, sha256: sha256(csv), parts: null })
        expect(report.headers["content-type"]).toBe("text/csv")
        expect(report.headers["content-length"]).toBe(String(csv.length))
        expect(result.bytes).toBe(csv.length)
        const empty = yield* Transfer.uploadFile(server.url("/blob"), `${dir}/empty.txt`)
        expect(JSON.parse(empty.body)).toMatchObject({ bytes: 0, sha256: sha256("") })
      })
    ))

  it.live("a missing file or a directory fails with FileSystemError before any request", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const server = yield* serverWith({ "/upload": { reply: "sink" } })
        const missing = yield* Effect.flip(
          Transfer.upload(server.url("/upload"), [Transfer.file("f", `${dir}/nope.bin`)])
        )
        expect(missing).toMatchObject({ _tag: "FileSystemError", operation: "stat", reason: "NotFound" })
        const directory = yield* Effect.flip(Transfer.uploadFile(server.url("/upload"), dir))
        expect(directory).toMatchObject({ _tag: "FileSystemError", operation: "stat", reason: "NotAFile" })
        expect((yield* server.stats).total).toBe(0)
      })
    ))

  it.live("a failed upload is not retried unless the caller opts in", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        yield* fs.writeFileString(`${dir}/a.txt`, "payload")
        const server = yield* serverWith({
          "/plain": { sequence: [500, "sink"] },
          "/retried": { sequence: [503, "sink"] }
        })
        const plain = yield* Effect.flip(Transfer.uploadFile(server.url("/plain"), `${dir}/a.txt`))
        expect(plain).toMatchObject({ _tag: "StatusError", status: 500 })
        const retried = yield* Transfer.upload(server.url("/retried"), [Transfer.file("a", `${dir}/a.txt`)], {
          retry: Schedule.recurs(1)
        })
        const report = JSON.parse(retried.body) as FaultServer.SinkReport
        expect(report.parts?.[0]).toMatchObject({ name: "a", bytes: 7, sha256: sha256("payload") })
        expect((yield* server.stats).byRoute).toEqual({ "/plain": 1, "/retried": 2 })
      })
    ))

  it.live("interrupted while sending: the request is aborted and the file handle closed", () =>
    live(
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        yield* fs.writeFile(`${dir}/big.bin`, new Uint8Array(16 * MB))
        const server = yield* serverWith({ "/upload": { reply: "sink" } })
        const before = baseline()
        const midway = yield* Deferred.make<void>()
        const fiber = yield* Transfer.upload(server.url("/upload"), [Transfer.file("f", `${dir}/big.bin`)], {
          progress: (p) =>
            p.bytes > MB ? Effect.andThen(Deferred.succeed(midway, undefined), Effect.never) : Effect.void
        }).pipe(Effect.forkChild({ startImmediately: true }))
        yield* Deferred.await(midway)
        yield* Fiber.interrupt(fiber)
        yield* server.awaitIdle
        expect((yield* server.requests)[0]?.state).toBe("aborted")
        expect(yield* handlesAfter(before)).toEqual(before)
      })
    ))

  it.live("bad options, parts and URLs fail with InvalidOptionError / MalformedUrlError before any I/O", () =>
    live(
      Effect.gen(function*() {
        const server = yield* serverWith({ "/upload": { reply: "sink" } })
        const url = server.url("/upload")
        const cases: ReadonlyArray<readonly [string, string, Effect.Effect<unknown, Transfer.TransferError, any>]> = [
          ["Transfer.upload", "method", Transfer.upload(url, [], { method: "NOT A METHOD" })],
          ["Transfer.upload", "maxResponseBytes", Transfer.upload(url, [], { maxResponseBytes: -1 })],
          ["Transfer.upload", "parts", Transfer.upload(url, "x" as unknown as ReadonlyArray<Transfer.Part>)],
          ["Transfer.upload", "parts[0].name", Transfer.upload(url, [Transfer.field("", "v")])],
          [
            "Transfer.upload",
            "parts[1].path",
            Transfer.upload(url, [Transfer.field("a", "v"), Transfer.file("f", "")])
          ],
          ["Transfer.uploadFile", "path", Transfer.uploadFile(url, "")],
          ["Transfer.uploadFile", "contentType", Transfer.uploadFile(url, "/tmp/x", { contentType: "a\r\nb: c" })]
        ]
        for (const [module, option, effect] of cases) {
          const error = yield* Effect.flip(effect)
          expect(error).toBeInstanceOf(InvalidOptionError)
          expect(error).toMatchObject({ module, option })
        }
        const badUrl = yield* Effect.flip(Transfer.upload("nope", []))
        expect(badUrl).toMatchObject({ _tag: "MalformedUrlError", url: "nope" })
        expect((yield* server.stats).total).toBe(0)
      })
    ))
})
