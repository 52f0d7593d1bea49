import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/server.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/server serves routes with path params and JSON in and out, and stops with its scope", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- server listening on a free port",
      "200 ok",
      "200 {\"id\":1,\"name\":\"Ada\"}",
      "201 {\"id\":2,\"name\":\"Grace\"}",
      "422 {\"error\":\"name must be a non-empty string\"}",
      "200 [{\"id\":1,\"name\":\"Ada\"},{\"id\":2,\"name\":\"Grace\"}]",
      "404 {\"error\":\"no user 9\"}",
      "400 {\"error\":\"bad id\"}",
      "204 (empty)",
      "200 [{\"id\":2,\"name\":\"Grace\"}]",
      "404 (empty)",
      "-- server stopped with the scope"
    ])
  }))
