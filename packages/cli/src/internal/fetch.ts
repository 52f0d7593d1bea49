/**
 * `async-ops fetch`: URL list parsing, resume reading, record encoding and the run itself (FetchAll over the
 * metered resilient client, one JSON Lines record per input, graceful stop on SIGINT/SIGTERM).
 *
 * @internal
 */
import * as Gather from "@async-ops/core/Gather"
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as HttpResilienceError from "@async-ops/http/HttpResilienceError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FileSystem from "effect/FileSystem"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Runtime from "effect/Runtime"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { getSystemErrorMessage } from "node:util"
import { MAX_REDIRECTS, MAX_RETRIES } from "./limits.ts"
import * as Meter from "./meter.ts"
import * as Progress from "./progress.ts"
import * as Report from "./report.ts"
import { exitCodeOf, type StopSignal, stopSignal } from "./signals.ts"
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
  meter: Meter.CallMeter | undefined,
  maxRedirects = 0
): FetchRecord => {
  const base = { line: entry.line, url: entry.url, ms: meter?.ms ?? 0, attempts: meter?.attempts ?? 0 }
  switch (result._tag) {
    case "Success": {
      const status = result.response.status
      // a 3xx reaching here was not followed (--max-redirects 0, the limit reached, or no usable Location)
      const redirect = status >= 300 && status < 400
      return {
        ...base,
        ok: !redirect,
        status,
        error: redirect ? "RedirectNotFollowedError" : null,
        message: redirect
          ? `${status} redirect to ${result.response.headers["location"] ?? "(no Location)"} not followed` +
            (maxRedirects === 0 ? " (redirects off)" : ` (limit of ${maxRedirects} redirects)`)
          : null,
        bytes: result.response.body.length
      }
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
  /** Redirects followed per request (0: none, a 3xx is then the record's status). */
  readonly maxRedirects: number
  /** Write an HTML report of the run to this path. */
  readonly report?: string | undefined
}

export { MAX_REDIRECTS, MAX_RETRIES } from "./limits.ts"

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
  if (trimmed.startsWith("-")) {
    return Result.fail(new UsageError({ reason: `--${flag} must not be negative, got ${value}` }))
  }
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
export const checkInt = (
  flag: string,
  value: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER
): Result.Result<number, UsageError> =>
  Number.isInteger(value) && value >= min && value <= max
    ? Result.succeed(value)
    : Result.fail(
      new UsageError({
        reason: max === Number.MAX_SAFE_INTEGER
          ? `--${flag} must be an integer >= ${min}, got ${value}`
          : `--${flag} must be an integer from ${min} to ${max}, got ${value}`
      })
    )

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
  readonly maxRedirects: number
}

/** @internal */
export const resolveOptions = (o: FetchOptions): Effect.Effect<Resolved, UsageError> =>
  Effect.gen(function*() {
    const concurrency = yield* fromResult(checkInt("concurrency", o.concurrency, 1))
    const perHost = yield* fromResult(checkInt("per-host", o.perHost, 1))
    const retries = yield* fromResult(checkInt("retries", o.retries, 0, MAX_RETRIES))
    const maxRedirects = yield* fromResult(checkInt("max-redirects", o.maxRedirects, 0, MAX_REDIRECTS))
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
    return {
      concurrency,
      perHost,
      timeout,
      retries,
      rate,
      maxBytes,
      headers,
      method: method as Method,
      grace,
      maxRedirects
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------------

/**
 * The reader of stdout went away (EPIPE, as in `fetch urls.txt | head -2`): the run stops at once, in-flight
 * requests are interrupted, and the process exits quietly with 141 (128 + SIGPIPE, what a shell reports for a
 * tool stopped by a closed pipe), printing nothing.
 *
 * @internal
 */
export class OutputClosedError extends Data.TaggedError("OutputClosedError")<{ readonly target: string }> {
  override readonly [Runtime.errorExitCode] = 141
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return `${this.target} was closed by its reader`
  }
}

interface Writer {
  readonly write: (text: string) => Effect.Effect<void, UsageError | OutputClosedError>
}

const errnoOf = (error: unknown): { readonly code?: unknown; readonly errno?: unknown } | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const e = error as {
    readonly code?: unknown
    readonly errno?: unknown
    readonly reason?: { readonly cause?: unknown }
  }
  if (typeof e.code === "string") return e
  const cause = e.reason?.cause
  return typeof cause === "object" && cause !== null ? errnoOf(cause) : undefined
}

/**
 * The operating system's reason for a failed read or write, in one line: `no space left on device (ENOSPC)`.
 *
 * @internal
 */
export const osReason = (error: unknown): string => {
  const e = errnoOf(error)
  if (e !== undefined && typeof e.code === "string") {
    let text: string | undefined
    if (typeof e.errno === "number") {
      try {
        text = getSystemErrorMessage(e.errno)
      } catch {
        text = undefined
      }
    }
    return text === undefined ? e.code : `${text} (${e.code})`
  }
  return describeError(error)
}

const isClosed = (error: unknown): boolean => {
  const code = errnoOf(error)?.code
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END"
}

const stdoutWriter: Writer = {
  write: (text) =>
    Effect.callback<void, UsageError | OutputClosedError>((resume) => {
      if (process.stdout.destroyed) return resume(Effect.fail(new OutputClosedError({ target: "stdout" })))
      process.stdout.write(text, (error) => {
        if (error === null || error === undefined) return resume(Effect.void)
        resume(Effect.fail(
          isClosed(error)
            ? new OutputClosedError({ target: "stdout" })
            : new UsageError({ reason: `cannot write to stdout: ${osReason(error)}` })
        ))
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

/**
 * Opens the output file: appended to under `--resume` (the complete records already there are kept byte for byte),
 * truncated otherwise.
 *
 * @internal
 */
export const fileWriter = (path: string, append: boolean) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = yield* fs.open(path, { flag: append ? "a" : "w" }).pipe(
      Effect.mapError((e) => new UsageError({ reason: `cannot open ${path} for writing: ${osReason(e)}` }))
    )
    const writer: Writer = {
      write: (text) =>
        // one write(2) per batch of finished records: once it returns, a killed process loses nothing of it
        file.writeAll(encoder.encode(text)).pipe(
          Effect.mapError((e) => new UsageError({ reason: `cannot write to ${path}: ${osReason(e)}` }))
        )
    }
    return writer
  })

/**
 * Prepares `out` for `--resume` against `entries`: reads the records already there, drops a cut-off last line
 * (a run killed mid-write) and returns the input lines that have a record. A missing file is nothing done.
 *
 * @internal
 */
export const prepareResume = (out: string, entries: ReadonlyArray<UrlEntry>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(out).pipe(Effect.orElseSucceed(() => false)))) return new Set<number>()
    const previous = yield* fs.readFile(out).pipe(
      Effect.mapError((e) => new UsageError({ reason: `cannot read ${out}: ${osReason(e)}` }))
    )
    const state = yield* fromResult(readResume(previous, entries)).pipe(
      Effect.mapError((e) => new UsageError({ reason: `${out}: ${e.message}` }))
    )
    if (state.truncatedTail) {
      yield* fs.truncate(out, state.validBytes).pipe(
        Effect.mapError((e) => new UsageError({ reason: `cannot truncate ${out}: ${osReason(e)}` }))
      )
    }
    return state.done
  })

/**
 * Opens `--out`: under `--resume` the records already there are read, a cut-off tail dropped and the file appended
 * to; otherwise it is truncated and nothing counts as done.
 *
 * @internal
 */
export const openOutput = (out: string, resume: boolean, entries: ReadonlyArray<UrlEntry>) =>
  Effect.gen(function*() {
    const done: ReadonlySet<number> = resume ? yield* prepareResume(out, entries) : new Set()
    const writer = yield* fileWriter(out, resume)
    return { done, writer }
  })

const readInput = (input: string) =>
  Effect.gen(function*() {
    if (input === "-") {
      const stdio = yield* Stdio.Stdio
      const chunks = yield* stdio.stdin.pipe(
        Stream.runCollect,
        Effect.mapError((e) => new UsageError({ reason: `cannot read stdin: ${osReason(e)}` }))
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
// Records of a batch
// ---------------------------------------------------------------------------------------------------------------

/**
 * One finished input as the run keeps it until it is written: its index in the batch, the encoded record and
 * whether it succeeded. The response (and its body) is dropped as soon as the record is encoded, and the record
 * goes to a buffer of the run's own, not through `Gather.asCompleted`'s outcome (whose value is `void`): whatever
 * the gather keeps per input, it is never a body or a record.
 *
 * @internal
 */
export interface Finished {
  readonly index: number
  readonly text: string
  readonly ok: boolean
  /** The outcome's kind (`200 ok`, `RequestTimeoutError`...) and the call's wall time, for `--report`. */
  readonly label: string
  readonly ms: number | undefined
}

/** @internal */
export interface BatchOptions {
  readonly concurrency: number
  readonly maxRedirects: number
  readonly method: Method
  readonly headers: Record<string, string>
}

/**
 * Counters of a batch while it runs: calls started and not yet recorded (`inFlight`). After a hard stop, the
 * calls still in flight are the ones cut off at the grace deadline.
 *
 * @internal
 */
export interface BatchCounters {
  inFlight: number
}

/**
 * The records of `todo` in completion order, each computed from its response as soon as it ends. Calls that do
 * not start (a stop was requested) end as interruptions and give no record.
 *
 * @internal
 */
export const records = (
  todo: ReadonlyArray<UrlEntry>,
  client: HttpResilience.ResilientClient,
  meters: Meter.Meters,
  options: BatchOptions,
  counters: BatchCounters
): Stream.Stream<Finished, UsageError> => {
  const init = Object.keys(options.headers).length > 0 ? { headers: options.headers } : {}
  // finished records not yet handed to the consumer: one per successful item, taken in order below
  const ready: Array<Finished> = []
  const item = (entry: UrlEntry, index: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      // the request is made when its turn comes and dropped with its response: nothing per input outlives it
      const request = HttpClientRequest.make(options.method)(entry.url, init)
      const finished = (result: Parameters<typeof recordOf>[1]): Effect.Effect<void> =>
        Effect.sync(() => {
          const meter = meters.get(request)
          const record = recordOf(entry, result, meter, options.maxRedirects)
          ready.push({
            index,
            text: encodeRecord(record),
            ok: record.ok,
            label: record.ok ? `${record.status} ok` : record.error ?? `status ${record.status}`,
            ms: meter?.ms
          })
        })
      counters.inFlight++
      return client.execute(request).pipe(
        Effect.matchCauseEffect({
          onSuccess: (response) => finished({ _tag: "Success", response }),
          onFailure: (cause): Effect.Effect<void> => {
            const error = Cause.findErrorOption(cause)
            if (error._tag === "Some") return finished({ _tag: "Failure", error: error.value })
            const die = cause.reasons.find(Cause.isDieReason)
            if (die !== undefined) return finished({ _tag: "Defect", defect: die.defect })
            return Effect.failCause(cause as Cause.Cause<never>)
          }
        }),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            // a call interrupted after it started (the grace deadline) stays counted: it was cut off
            if (Exit.isSuccess(exit) || meters.get(request) === undefined) counters.inFlight--
          })
        )
      )
    })
  return Gather.asCompleted(todo, item, { concurrency: options.concurrency }).pipe(
    Stream.mapError((e) => new UsageError({ reason: e.message })),
    Stream.filter((outcome) => outcome._tag === "Success"),
    Stream.map(() => ready.shift()!)
  )
}

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface FetchSummary {
  readonly inputs: number
  readonly skipped: number
  readonly written: number
  /** Requests still in flight at the grace deadline: their outcome is unknown and `--resume` fetches them again. */
  readonly cutOff: number
  readonly stoppedBy: StopSignal | undefined
  readonly exitCode: number
}

/** @internal */
export const run = (
  options: FetchOptions
): Effect.Effect<FetchSummary, UsageError | OutputClosedError, FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.scoped(Effect.gen(function*() {
    const resolved = yield* resolveOptions(options)
    const entries = yield* readInput(options.input).pipe(
      Effect.flatMap((bytes) => fromResult(parseUrlList(bytes))),
      Effect.mapError((e) =>
        e._tag === "UsageError"
          ? e
          : new UsageError({ reason: `${options.input === "-" ? "stdin" : options.input}: ${e.message}` })
      )
    )
    const { done, writer } = options.out === undefined
      ? { done: new Set<number>(), writer: stdoutWriter }
      : yield* openOutput(options.out, options.resume, entries)
    const todo = done.size === 0 ? entries : entries.filter((e) => !done.has(e.line))

    const counters = Meter.makeCounters()
    const recorder = options.report === undefined ? undefined : yield* Report.make({
      command:
        `async-ops fetch: ${todo.length} URLs, concurrency ${resolved.concurrency}, ${resolved.perHost} per host`,
      perHostCap: resolved.perHost,
      totalCap: Number.POSITIVE_INFINITY,
      openDurationMs: undefined
    })
    counters.recorder = recorder
    const meters: Meter.Meters = new WeakMap()
    const control: Meter.Control = { stopping: false }
    const client = yield* Layer.build(
      Meter.layer(
        {
          maxConnections: Number.POSITIVE_INFINITY,
          maxConnectionsPerHost: resolved.perHost,
          requestTimeout: resolved.timeout,
          headersTimeout: resolved.timeout,
          poolWaitTimeout: Number.POSITIVE_INFINITY,
          maxResponseBytes: resolved.maxBytes,
          retry: { maxAttempts: resolved.retries + 1, maxDelay: "10 seconds" },
          ...(resolved.rate !== undefined ? { rateLimit: { limit: resolved.rate, window: "1 second" } } : {})
        },
        counters,
        { maxRedirects: resolved.maxRedirects }
      )
    ).pipe(
      Effect.map((context) => Context.get(context, HttpResilience.ResilientClient)),
      Effect.mapError((e) => new UsageError({ reason: e.message }))
    )
    const wrapped = Meter.metered(client, meters, control, counters, undefined)

    // stop: the first signal stops new calls; after the grace period the calls still running are cut off
    const signal = yield* stopSignal
    const hardStop = yield* Deferred.make<void>()
    let stoppedBy: StopSignal | undefined
    yield* Effect.forkScoped(Effect.gen(function*() {
      stoppedBy = yield* Deferred.await(signal.first)
      control.stopping = true
      yield* Effect.raceFirst(Effect.sleep(resolved.grace), Deferred.await(signal.force))
      yield* Deferred.succeed(hardStop, undefined)
    }))

    // progress on a terminal only
    const batch: BatchCounters = { inFlight: 0 }
    const startedAt = yield* Clock.currentTimeMillis
    let written = 0
    let failed = 0
    const stdio = yield* Stdio.Stdio
    const tty = !options.quiet && (yield* stdio.stderrIsTerminal)
    yield* Progress.show(
      Effect.map(Clock.currentTimeMillis, (now) => ({
        total: todo.length,
        done: written,
        failed,
        inFlight: batch.inFlight,
        retrying: counters.retrying,
        elapsedMs: now - startedAt
      })),
      { tty, plain: false }
    )

    // ordered output keeps finished records until every earlier input has one
    const pending = new Map<number, string>()
    let nextIndex = 0
    yield* records(todo, wrapped, meters, resolved, batch).pipe(
      Stream.interruptWhen(Deferred.await(hardStop)),
      Stream.runForEachArray((chunk) => {
        let text = ""
        for (const finished of chunk) {
          written++
          if (!finished.ok) failed++
          recorder?.outcomeNow(finished.label, finished.ms)
          if (!options.ordered) text += finished.text
          else pending.set(finished.index, finished.text)
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
      })
    )
    // a stopped ordered run: records after a gap are still written (resume needs them, order is lost at the end)
    if (pending.size > 0) {
      yield* writer.write(Array.from(pending.entries()).toSorted((a, b) => a[0] - b[0]).map(([, l]) => l).join(""))
    }
    if (recorder !== undefined && options.report !== undefined) yield* Report.write(recorder, options.report)
    return {
      inputs: entries.length,
      skipped: entries.length - todo.length,
      written,
      cutOff: batch.inFlight,
      stoppedBy,
      exitCode: stoppedBy === undefined ? 0 : exitCodeOf(stoppedBy)
    }
  }))
