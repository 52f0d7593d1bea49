import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/upload.ts"
import { openHandles, settledHandles } from "./handles.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/upload streams files from disk as multipart and as a raw body; the server gets the exact bytes", () =>
  Effect.gen(function*() {
    const before = openHandles()
    expect(yield* runLiveExample(program)).toEqual([
      "POST /upload -> 200: sent 2107358 bytes, the server read 2107358",
      "  field title = \"Q3 report\"",
      "  file report: q3.csv, text/csv, 9803 bytes, sha256 matches",
      "  file photo: photo.bin, application/octet-stream, 2097152 bytes, sha256 matches",
      "PUT /blobs/q3.csv -> 200: text/csv, Content-Length 9803, sha256 matches",
      "nope.bin: FileSystemError (stat, NotFound), nothing sent",
      "requests the server saw: 2"
    ])
    expect(yield* settledHandles(before)).toEqual(before)
  }))
