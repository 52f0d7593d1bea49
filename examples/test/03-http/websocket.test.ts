import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/websocket.ts"
import { openHandles, settledHandles } from "./handles.ts"
import { runLiveExample } from "./runLive.ts"

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
