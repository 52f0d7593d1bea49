/**
 * `async-ops fetch`'s input: reading the URL list (a file or stdin) and parsing it into numbered entries.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Result from "effect/Result"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { UsageError } from "../usage.ts"
import { describeError, osReason } from "./osError.ts"

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

export const readInput = (input: string) =>
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
