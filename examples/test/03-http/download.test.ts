import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/download.ts"
import { runLiveExample } from "./runLive.ts"

/** Open sockets and file handles/requests of this process. */
const openHandles = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) {
    if (/^(TCPSocketWrap|TCPServerWrap|FSReqCallback|FSReqPromise|FileHandle)$/.test(name)) {
      counts[name] = (counts[name] ?? 0) + 1
    }
  }
  return counts
}
/** Closed handles leave libuv in its close phase: let event-loop turns pass (at most 200) until they are gone. */
const settledHandles = (expected: Record<string, number>) =>
  Effect.gen(function*() {
    let now = openHandles()
    for (let i = 0; i < 200 && JSON.stringify(now) !== JSON.stringify(expected); i++) {
      yield* Effect.callback<void>((resume) => {
        setImmediate(() => resume(Effect.void))
      })
      now = openHandles()
    }
    return now
  })

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
