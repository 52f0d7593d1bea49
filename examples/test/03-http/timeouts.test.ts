import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/timeouts.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/timeouts tells the headers, request and pool-wait timeouts apart", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- the server never answers: the headers timeout fires",
      "RequestTimeoutError (phase: headers)",
      "-- headers come at once, the body drips for 1.5 s: the request timeout fires",
      "RequestTimeoutError (phase: request)",
      "-- the only connection is busy: waiting for it fails with a pool error, not a timeout",
      "waiting caller: PoolWaitTimeoutError",
      "busy caller: RequestTimeoutError (phase: headers)",
      "/ok reached the server: 0 times",
      "-- once the connection is free, the same call succeeds",
      "status: 200"
    ])
  }))
