/**
 * `async-ops fetch`: URL list parsing, resume reading, record encoding and the run itself (FetchAll over the
 * metered resilient client, one JSON Lines record per input, graceful stop on SIGINT/SIGTERM).
 *
 * @internal
 */
import type * as Gather from "@async-ops/core/Gather"
import * as FetchAll from "@async-ops/http/FetchAll"
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as HttpResilienceError from "@async-ops/http/HttpResilienceError"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Meter from "./meter.ts"
import * as Progress from "./progress.ts"
import { exitCodeOf, stopSignal } from "./signals.ts"
import { UsageError } from "./usage.ts"

// ---------------------------------------------------------------------------------------------------------------
// URL lists
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface UrlEntry {
  /** The 1-based line number in the input. */
  readonly line: number
  /** The line, trimmed (not checked: a malformed URL gets an `MalformedUrlError` record). */
  readonly url: string
}

/** @internal */
export class UnreadableLineError extends Data.TaggedError("UnreadableLineError")<{
  readonly line: number
  readonly reason: string
}> {
  override get message(): string {
    return `line ${this.line} is unreadable: ${this.reason}`
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** @internal */
export const parseUrlList = (input: Uint8Array | string): Result.Result<Array<UrlEntry>, UnreadableLineError> => {
  const entries: Array<UrlEntry> = []
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input
  let start = 0
  let line = 0
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start)
    if (end === -1) end = bytes.length
    line++
    const raw = bytes.subarray(start, end)
    start = end + 1
    let text: string
    try {
      text = utf8.decode(raw)
    } catch {
      return Result.fail(new UnreadableLineError({ line, reason: "not valid UTF-8" }))
    }
    if (text.includes("\u0000")) return Result.fail(new UnreadableLineError({ line, reason: "contains a NUL byte" }))
    const trimmed = text.trim()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    entries.push({ line, url: trimmed })
  }
  return Result.succeed(entries)
}

// ---------------------------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface FetchRecord {
  readonly line: number
  readonly url: string
  readonly ok: boolean
  readonly status: number | null
  readonly error: string | null
  readonly message: string | null
  readonly bytes: number
  readonly ms: number
  readonly attempts: number
}

/** @internal */
export const encodeRecord = (r: FetchRecord): string =>
  JSON.stringify({
    line: r.line,
    url: r.url,
    ok: r.ok,
    status: r.status,
    error: r.error,
    message: r.message,
    bytes: r.bytes,
    ms: Math.round(r.ms * 10) / 10,
    attempts: r.attempts
  }) + "\n"

const encoder = new TextEncoder()

/** @internal */
export const recordOf = (
  entry: UrlEntry,
  result:
    | { readonly _tag: "Success"; readonly response: HttpResilience.Response }
    | { readonly _tag: "Failure"; readonly error: HttpResilienceError.HttpError }
    | { readonly _tag: "Defect"; readonly defect: unknown },
  meter: Meter.CallMeter | undefined
): FetchRecord => {
  const base = { line: entry.line, url: entry.url, ms: meter?.ms ?? 0, attempts: meter?.attempts ?? 0 }
  switch (result._tag) {
    case "Success":
      return {
        ...base,
        ok: true,
        status: result.response.status,
        error: null,
        message: null,
        bytes: result.response.body.length
      }
    case "Failure": {
      const e = result.error
      return {
        ...base,
        ok: false,
        status: e._tag === "StatusError" ? e.status : null,
        error: meter?.kind ?? e._tag,
        message: e.message,
        bytes: e._tag === "StatusError" ? encoder.encode(e.body).length : 0
      }
    }
    case "Defect":
      return {
        ...base,
        ok: false,
        status: null,
        error: "Defect",
        message: result.defect instanceof Error ? result.defect.message : String(result.defect),
        bytes: 0
      }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Resume
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface ResumeState {
  /** Input lines that already have a record. */
  readonly done: ReadonlySet<number>
  /** Bytes of the file up to the end of its last complete record (the rest is a cut-off line to drop). */
  readonly validBytes: number
  /** Whether a cut-off last line was found. */
  readonly truncatedTail: boolean
}

/** @internal */
export class ResumeMismatchError extends Data.TaggedError("ResumeMismatchError")<{
  readonly line: number
  readonly reason: string
}> {
  override get message(): string {
    return `--resume: output line ${this.line} ${this.reason}`
  }
}

/** @internal */
export const readResume = (
  output: Uint8Array | string,
  entries: ReadonlyArray<UrlEntry>
): Result.Result<ResumeState, ResumeMismatchError> => {
  const bytes = typeof output === "string" ? encoder.encode(output) : output
  const urls = new Map(entries.map((e) => [e.line, e.url]))
  const done = new Set<number>()
  const decoder = new TextDecoder()
  let start = 0
  let outLine = 0
  while (start < bytes.length) {
    const end = bytes.indexOf(0x0a, start)
    if (end === -1) return Result.succeed({ done, validBytes: start, truncatedTail: true })
    outLine++
    const text = decoder.decode(bytes.subarray(start, end)).trim()
    start = end + 1
    if (text === "") continue
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return Result.fail(new ResumeMismatchError({ line: outLine, reason: "is not a JSON record" }))
    }
    const record = parsed as { readonly line?: unknown; readonly url?: unknown }
    if (typeof parsed !== "object" || parsed === null || typeof record.line !== "number") {
      return Result.fail(new ResumeMismatchError({ line: outLine, reason: "has no input line number" }))
    }
    if (urls.get(record.line) !== record.url) {
      return Result.fail(
        new ResumeMismatchError({ line: outLine, reason: `is not for input line ${record.line} of this input` })
      )
    }
    done.add(record.line)
  }
  return Result.succeed({ done, validBytes: start, truncatedTail: false })
}

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface FetchOptions {
  readonly input: string
  readonly out: string | undefined
  readonly ordered: boolean
  readonly concurrency: number
  readonly perHost: number
  readonly timeout: string
  readonly retries: number
  readonly rate: number | undefined
  readonly maxBytes: number
  readonly headers: ReadonlyArray<string>
  readonly method: string
  readonly resume: boolean
  readonly quiet: boolean
  readonly grace: string
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const
type Method = typeof METHODS[number]

/**
 * Parses a duration flag: a number of milliseconds (`1500`), or a number with a unit (`500ms`, `2s`, `1m`, or
 * Effect's `"2 seconds"`).
 *
 * @internal
 */
export const parseDuration = (flag: string, value: string): Result.Result<Duration.Duration, UsageError> => {
  const trimmed = value.trim()
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(trimmed)
  if (short !== null) {
    const n = Number(short[1])
    const unit = short[2] ?? "ms"
    return Result.succeed(Duration.millis(unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000))
  }
  const decoded = Duration.fromInput(trimmed as Duration.Input)
  if (decoded._tag === "Some" && Duration.isFinite(decoded.value) && Duration.toMillis(decoded.value) >= 0) {
    return Result.succeed(decoded.value)
  }
  return Result.fail(new UsageError({ reason: `--${flag} must be a duration like 500ms, 2s or 1m, got ${value}` }))
}

/** @internal */
export const checkInt = (flag: string, value: number, min: number): Result.Result<number, UsageError> =>
  Number.isInteger(value) && value >= min
    ? Result.succeed(value)
    : Result.fail(new UsageError({ reason: `--${flag} must be an integer >= ${min}, got ${value}` }))

const parseHeader = (raw: string): Result.Result<readonly [string, string], UsageError> => {
  const colon = raw.indexOf(":")
  const name = colon === -1 ? "" : raw.slice(0, colon).trim()
  if (colon === -1 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || /[\r\n]/.test(raw)) {
    return Result.fail(new UsageError({ reason: `--header must look like "Name: value", got ${JSON.stringify(raw)}` }))
  }
  return Result.succeed([name, raw.slice(colon + 1).trim()])
}

const fromResult = <A, E>(r: Result.Result<A, E>): Effect.Effect<A, E> =>
  Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)

interface Resolved {
  readonly concurrency: number
  readonly perHost: number
  readonly timeout: Duration.Duration
  readonly retries: number
  readonly rate: number | undefined
  readonly maxBytes: number
  readonly headers: Record<string, string>
  readonly method: Method
  readonly grace: Duration.Duration
}

/** @internal */
export const resolveOptions = (o: FetchOptions): Effect.Effect<Resolved, UsageError> =>
  Effect.gen(function*() {
    const concurrency = yield* fromResult(checkInt("concurrency", o.concurrency, 1))
    const perHost = yield* fromResult(checkInt("per-host", o.perHost, 1))
    const retries = yield* fromResult(checkInt("retries", o.retries, 0))
    const maxBytes = yield* fromResult(checkInt("max-bytes", o.maxBytes, 0))
    const rate = o.rate === undefined ? undefined : yield* fromResult(checkInt("rate", o.rate, 1))
    const timeout = yield* fromResult(parseDuration("timeout", o.timeout))
    if (Duration.isZero(timeout)) return yield* new UsageError({ reason: "--timeout must be > 0" })
    const grace = yield* fromResult(parseDuration("grace", o.grace))
    const headers: Record<string, string> = {}
    for (const raw of o.headers) {
      const [name, value] = yield* fromResult(parseHeader(raw))
      headers[name] = value
    }
    const method = o.method.toUpperCase()
    if (!(METHODS as ReadonlyArray<string>).includes(method)) {
      return yield* new UsageError({ reason: `--method must be one of ${METHODS.join(", ")}, got ${o.method}` })
    }
    if (o.resume && o.out === undefined) return yield* new UsageError({ reason: "--resume needs --out <file>" })
    return { concurrency, perHost, timeout, retries, rate, maxBytes, headers, method: method as Method, grace }
  })

// ---------------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------------

interface Writer {
  readonly write: (text: string) => Effect.Effect<void, UsageError>
}

const stdoutWriter: Writer = {
  write: (text) =>
    Effect.callback<void, UsageError>((resume) => {
      process.stdout.write(text, (error) => {
        resume(
          error === null || error === undefined
            ? Effect.void
            : Effect.fail(new UsageError({ reason: `cannot write to stdout: ${error.message}` }))
        )
      })
    })
}

const describeError = (error: unknown): string => {
  const e = error as { readonly reason?: { readonly _tag?: string; readonly description?: string } }
  const tag = e.reason?._tag
  if (tag === "NotFound") return "no such file"
  if (tag === "PermissionDenied") return "permission denied"
  if (tag === "BadResource") return "not a readable file"
  return e.reason?.description ?? (error instanceof Error ? error.message : String(error))
}

const fileWriter = (path: string, append: boolean) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = yield* fs.open(path, { flag: append ? "a" : "w" }).pipe(
      Effect.mapError((e) => new UsageError({ reason: `cannot open ${path} for writing: ${describeError(e)}` }))
    )
    const writer: Writer = {
      write: (text) =>
        // one write(2) per batch of finished records: once it returns, a killed process loses nothing of it
        file.writeAll(encoder.encode(text)).pipe(
          Effect.mapError((e) => new UsageError({ reason: `cannot write to ${path}: ${describeError(e)}` }))
        )
    }
    return writer
  })

const readInput = (input: string) =>
  Effect.gen(function*() {
    if (input === "-") {
      const stdio = yield* Stdio.Stdio
      const chunks = yield* stdio.stdin.pipe(
        Stream.runCollect,
        Effect.mapError((e) => new UsageError({ reason: `cannot read stdin: ${describeError(e)}` }))
      )
      const size = chunks.reduce((n, c) => n + c.length, 0)
      const all = new Uint8Array(size)
      let offset = 0
      for (const c of chunks) {
        all.set(c, offset)
        offset += c.length
      }
      return all
    }
    const fs = yield* FileSystem.FileSystem
    return yield* fs.readFile(input).pipe(
      Effect.mapError((e) => new UsageError({ reason: `cannot read ${input}: ${describeError(e)}` }))
    )
  })

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface FetchSummary {
  readonly inputs: number
  readonly skipped: number
  readonly written: number
  readonly stoppedBy: "SIGINT" | "SIGTERM" | undefined
  readonly exitCode: number
}

/** @internal */
export const run = (
  options: FetchOptions
): Effect.Effect<FetchSummary, UsageError, FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.scoped(Effect.gen(function*() {
    const resolved = yield* resolveOptions(options)
    const bytes = yield* readInput(options.input)
    const entries = yield* fromResult(parseUrlList(bytes)).pipe(
      Effect.mapError((e) =>
        new UsageError({ reason: `${options.input === "-" ? "stdin" : options.input}: ${e.message}` })
      )
    )
    const fs = yield* FileSystem.FileSystem
    let done: ReadonlySet<number> = new Set()
    const out = options.out
    if (options.resume && out !== undefined && (yield* fs.exists(out).pipe(Effect.orElseSucceed(() => false)))) {
      const previous = yield* fs.readFile(out).pipe(
        Effect.mapError((e) => new UsageError({ reason: `cannot read ${out}: ${describeError(e)}` }))
      )
      const state = yield* fromResult(readResume(previous, entries)).pipe(
        Effect.mapError((e) => new UsageError({ reason: `${out}: ${e.message}` }))
      )
      if (state.truncatedTail) {
        yield* fs.truncate(out, state.validBytes).pipe(
          Effect.mapError((e) => new UsageError({ reason: `cannot truncate ${out}: ${describeError(e)}` }))
        )
      }
      done = state.done
    }
    const writer = out === undefined ? stdoutWriter : yield* fileWriter(out, options.resume)
    const todo = entries.filter((e) => !done.has(e.line))
    const requests = todo.map((e) =>
      HttpClientRequest.make(resolved.method)(
        e.url,
        Object.keys(resolved.headers).length > 0 ? { headers: resolved.headers } : {}
      )
    )

    const counters = Meter.makeCounters()
    const meters: Meter.Meters = new WeakMap()
    const control: Meter.Control = { stopping: false }
    const client = yield* Layer.build(
      Meter.layer({
        maxConnections: Number.POSITIVE_INFINITY,
        maxConnectionsPerHost: resolved.perHost,
        requestTimeout: resolved.timeout,
        headersTimeout: resolved.timeout,
        poolWaitTimeout: Number.POSITIVE_INFINITY,
        maxResponseBytes: resolved.maxBytes,
        retry: { maxAttempts: resolved.retries + 1, maxDelay: "10 seconds" },
        ...(resolved.rate !== undefined ? { rateLimit: { limit: resolved.rate, window: "1 second" } } : {})
      }, counters)
    ).pipe(
      Effect.map((context) => Context.get(context, HttpResilience.ResilientClient)),
      Effect.mapError((e) => new UsageError({ reason: e.message }))
    )
    const wrapped = Meter.metered(client, meters, control, counters, undefined)

    // stop: the first signal stops new calls; after the grace period the calls still running are cut off
    const signal = yield* stopSignal
    const hardStop = yield* Deferred.make<void>()
    let stoppedBy: "SIGINT" | "SIGTERM" | undefined
    yield* Effect.forkScoped(Effect.gen(function*() {
      stoppedBy = yield* Deferred.await(signal)
      control.stopping = true
      yield* Effect.sleep(resolved.grace)
      yield* Deferred.succeed(hardStop, undefined)
    }))

    // progress on a terminal only
    const progressRef = yield* FetchAll.makeProgress
    const startedAt = yield* Clock.currentTimeMillis
    let written = 0
    let failed = 0
    const stdio = yield* Stdio.Stdio
    const tty = !options.quiet && (yield* stdio.stderrIsTerminal)
    yield* Progress.show(
      Effect.map(Effect.all([SubscriptionRef.get(progressRef), Clock.currentTimeMillis]), ([p, now]) => ({
        total: todo.length,
        done: written,
        failed,
        inFlight: p.inFlight,
        retrying: counters.retrying,
        elapsedMs: now - startedAt
      })),
      { tty, plain: false }
    )

    // ordered output keeps finished records until every earlier input has one
    const pending = new Map<number, string>()
    let nextIndex = 0
    const encode = (
      outcome: Gather.Outcome<FetchAll.Input, HttpResilience.Response, HttpResilienceError.HttpError>
    ): string | undefined => {
      const entry = todo[outcome.index]!
      const meter = meters.get(outcome.input as HttpClientRequest.HttpClientRequest)
      let record: FetchRecord
      switch (outcome._tag) {
        case "Success":
          record = recordOf(entry, { _tag: "Success", response: outcome.value }, meter)
          break
        case "Failure":
          record = recordOf(entry, { _tag: "Failure", error: outcome.error }, meter)
          break
        case "Defect":
          record = recordOf(entry, { _tag: "Defect", defect: outcome.defect }, meter)
          break
        default:
          return undefined
      }
      written++
      if (!record.ok) failed++
      return encodeRecord(record)
    }

    yield* FetchAll.stream(requests, { concurrency: resolved.concurrency, progress: progressRef }).pipe(
      Stream.provideService(HttpResilience.ResilientClient, wrapped),
      Stream.interruptWhen(Deferred.await(hardStop)),
      Stream.runForEachArray((chunk) => {
        let text = ""
        for (const outcome of chunk) {
          const line = encode(outcome)
          if (line === undefined) continue
          if (!options.ordered) {
            text += line
            continue
          }
          pending.set(outcome.index, line)
        }
        if (options.ordered) {
          while (nextIndex < todo.length) {
            const line = pending.get(nextIndex)
            if (line === undefined) break
            pending.delete(nextIndex)
            text += line
            nextIndex++
          }
        }
        return text === "" ? Effect.void : writer.write(text)
      }),
      Effect.catchTag("InvalidOptionError", (e) => Effect.fail(new UsageError({ reason: e.message })))
    )
    // a stopped ordered run: records after a gap are still written (resume needs them, order is lost at the end)
    if (pending.size > 0) {
      yield* writer.write(Array.from(pending.entries()).toSorted((a, b) => a[0] - b[0]).map(([, l]) => l).join(""))
    }
    return {
      inputs: entries.length,
      skipped: entries.length - todo.length,
      written,
      stoppedBy,
      exitCode: stoppedBy === undefined ? 0 : exitCodeOf(stoppedBy)
    }
  }))
