/**
 * `async-ops fetch`'s output: the writer (stdout or a file), and resuming into an existing output file.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Result from "effect/Result"
import * as Runtime from "effect/Runtime"
import { UsageError } from "../usage.ts"
import { fromResult } from "./options.ts"
import { isClosed, osReason } from "./osError.ts"
import { encoder } from "./record.ts"
import { type UrlEntry } from "./urlList.ts"

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

export interface Writer {
  readonly write: (text: string) => Effect.Effect<void, UsageError | OutputClosedError>
}

export const stdoutWriter: Writer = {
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
