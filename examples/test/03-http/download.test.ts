import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/download.ts"
import { openHandles, settledHandles } from "./handles.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/download streams to a file under a size cap, and an oversized download leaves no file", () =>
  Effect.gen(function*() {
    const before = openHandles()
    expect(yield* runLiveExample(program)).toEqual([
      "report.txt: 262144 bytes, status 200, application/octet-stream",
      "progress at the end: 262144 of 262144",
      "first line: 0123456789abcdefghijklmnopqrstuvwxyz",
      "backup.tar: BodyTooLargeError, Content-Length 8388608 > maxBytes 1048576",
      "live.log: BodyTooLargeError while streaming, stopped past 1048576 bytes",
      "report.txt again: TargetExistsError",
      "report.txt with overwrite: 262144 bytes",
      "files in the directory: report.txt"
    ])
    expect(yield* settledHandles(before)).toEqual(before)
  }))
