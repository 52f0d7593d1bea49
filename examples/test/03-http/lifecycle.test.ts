import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/lifecycle.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/lifecycle opens resources as Layers in dependency order and closes them in reverse", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "startup: open upstream service",
      "startup: open database pool",
      "startup: open outbound HTTP client",
      "startup: open app server",
      "-- serving",
      "GET /report -> 200 {\"orders\":42,\"price\":\"9.99\"}",
      "-- shutting down",
      "cleanup: app server closed",
      "cleanup: outbound HTTP client closed",
      "cleanup: database pool drained",
      "cleanup: database pool closed",
      "cleanup: upstream service closed",
      "-- all resources closed"
    ])
  }))
