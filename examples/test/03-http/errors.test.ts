import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/errors.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/errors matches every failure of a call by its tag", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- one client, one union of errors",
      "MalformedUrlError: not an absolute URL",
      "ConnectError: ECONNREFUSED",
      "ConnectionLostError: the connection was reset",
      "RequestTimeoutError: headers phase",
      "StatusError: 404 \"no such item\"",
      "BodyTooLargeError: over 10000 bytes",
      "BodyDecodeError",
      "-- a circuit breaker opens after 2 failures",
      "StatusError: 500 \"Internal Server Error\"",
      "StatusError: 500 \"Internal Server Error\"",
      "CircuitOpenError",
      "-- a rate limit of 2 per second, failing fast",
      "ok 200",
      "ok 200",
      "RateLimitedError",
      "-- handle one tag, let the rest through",
      "status: 404"
    ])
  }))
