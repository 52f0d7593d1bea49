import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/responses.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/responses reads status, headers, JSON, text and enforces the size cap", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- status, headers and JSON decoded with a Schema",
      "status: 200",
      "content-type: application/json, etag: \"v3\"",
      "user 7: Ada, roles admin+dev",
      "-- text (UTF-8) and the raw bytes",
      "text: h\u00e9llo, w\u00f6rld (12 characters, 14 bytes)",
      "-- a 201 with a Location header and an empty body",
      "status: 201, location: /user/8, json: null",
      "-- HEAD: the headers without the body",
      "content-length: 40000, body read: 0 bytes",
      "-- the size cap (64 KiB): 40 kB passes, 200 kB is refused, and the client carries on",
      "40 kB: 40000 bytes read",
      "200 kB: BodyTooLargeError (limit 65536, announced 200000)",
      "next call: 200"
    ])
  }))
