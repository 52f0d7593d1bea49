import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/websocket.ts"
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

it.live("03-http/websocket connects to an echo route, exchanges messages and closes cleanly on both sides", () =>
  Effect.gen(function*() {
    const before = openHandles()
    expect(yield* runLiveExample(program)).toEqual([
      "-- echo server listening on a free port",
      "client: connected",
      "client: sent \"message 1\", got \"echo: message 1\"",
      "client: sent \"message 2\", got \"echo: message 2\"",
      "client: sent \"message 3\", got \"echo: message 3\"",
      "client: closed with code 1000",
      "server: saw the close with code 1000",
      "server: echoed 3 messages",
      "-- server stopped with the scope"
    ])
    expect(yield* settledHandles(before)).toEqual(before)
  }))
