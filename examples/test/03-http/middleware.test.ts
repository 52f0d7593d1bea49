import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/middleware.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/middleware answers problem+json, logs each request and sheds load with 503", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- problem+json: a typed error mapped to 404, a defect as a 500 that leaks nothing",
      "200 [application/json] {\"id\":1,\"name\":\"Ada\"}",
      "404 [application/problem+json] {\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,\"detail\":\"no user 2\"}",
      "500 [application/problem+json] {\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500}",
      "404 [application/problem+json] {\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404}",
      "-- load shedding: 10 requests at once, 2 run, 2 wait, the rest get 503 at once",
      "4 x 200",
      "6 x 503 Retry-After: 1",
      "bulkhead: 8 admitted (4 earlier + 4 /slow), 2 waited in the queue, 6 shed, 0 in flight now",
      "-- access log (durations left out)",
      "GET /users/1 200",
      "GET /users/2 404",
      "GET /boom 500",
      "GET /nowhere 404",
      "then 10 lines for /slow: 4 x 200, 6 x 503"
    ])
  }))
