import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/methods.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/methods sends GET, POST, PUT, PATCH and DELETE with query, headers and JSON bodies", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- GET with query parameters",
      "200 GET /api/users?page=2&sort=name [-] (no body)",
      "-- POST, PUT and PATCH with JSON bodies",
      "200 POST /api/users [application/json] {\"name\":\"Ada\",\"admin\":false}",
      "200 PUT /api/users/7 [application/json] {\"name\":\"Ada Lovelace\"}",
      "200 PATCH /api/users/7 [application/json] {\"admin\":true}",
      "-- DELETE with a header",
      "200 DELETE /api/users/7 [-] (no body)",
      "if-match arrived: \"v3\"",
      "-- any request built with HttpClientRequest",
      "200 POST /api/search [text/plain] ada",
      "x-request-id arrived: r-1"
    ])
  }))
