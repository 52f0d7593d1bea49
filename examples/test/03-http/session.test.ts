import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/session.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/session reuses one client and its connections for many requests", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- 20 requests, 4 at a time, through one shared client",
      "statuses: 20 x 200",
      "client \"shared\": 20 requests, 20 succeeded, 0 in flight",
      "server saw 20 requests",
      "connections opened: at most 4 (keep-alive reuse): true"
    ])
  }))
