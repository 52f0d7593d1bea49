/**
 * Replaces aiohttp's multipart upload (`data = aiohttp.FormData()`, `data.add_field("report", open(path, "rb"),
 * filename=..., content_type=...)`, `await session.post(url, data=data)`) and the raw-body upload
 * (`session.put(url, data=open(path, "rb"))`): `Transfer.upload` and `Transfer.uploadFile` stream the files from
 * disk with an exact Content-Length, and the test server reports what it received, part by part.
 */
import * as Transfer from "@async-ops/http/Transfer"
import { FaultServer } from "@async-ops/testing"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, FileSystem, Layer } from "effect"
import { createHash } from "node:crypto"

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")

export const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "upload-example-" })
  const csv = "id,amount\n" + Array.from({ length: 1000 }, (_, i) => `${i + 1},${(i * 7) % 100}.50`).join("\n") + "\n"
  const photo = new Uint8Array(2 * 1024 * 1024).map((_, i) => (i * 131 + (i >> 8)) & 255)
  yield* fs.writeFileString(`${dir}/q3.csv`, csv)
  yield* fs.writeFile(`${dir}/photo.bin`, photo)
  const expected: Record<string, string> = { "q3.csv": sha256(csv), "photo.bin": sha256(photo) }
  // a "sink" route reads the body as it arrives and answers with its size, its SHA-256 and its parts
  const server = yield* FaultServer.make({ routes: { "/upload": { reply: "sink" }, "/blobs/*": { reply: "sink" } } })

  const form = yield* Transfer.upload(server.url("/upload"), [
    Transfer.field("title", "Q3 report"),
    Transfer.file("report", `${dir}/q3.csv`, { contentType: "text/csv" }),
    Transfer.file("photo", `${dir}/photo.bin`)
  ])
  const received = JSON.parse(form.body) as FaultServer.SinkReport
  yield* Console.log(`POST /upload -> ${form.status}: sent ${form.bytes} bytes, the server read ${received.bytes}`)
  for (const part of received.parts ?? []) {
    if (part.filename === null) {
      yield* Console.log(`  field ${part.name} = ${JSON.stringify(part.value)}`)
    } else {
      const check = expected[part.filename] === part.sha256 ? "sha256 matches" : "sha256 DIFFERS"
      yield* Console.log(`  file ${part.name}: ${part.filename}, ${part.contentType}, ${part.bytes} bytes, ${check}`)
    }
  }

  const raw = yield* Transfer.uploadFile(server.url("/blobs/q3.csv"), `${dir}/q3.csv`, {
    method: "PUT",
    contentType: "text/csv"
  })
  const blob = JSON.parse(raw.body) as FaultServer.SinkReport
  yield* Console.log(
    `PUT /blobs/q3.csv -> ${raw.status}: ${blob.headers["content-type"]}, Content-Length ${
      blob.headers["content-length"]
    }, ${blob.sha256 === expected["q3.csv"] ? "sha256 matches" : "sha256 DIFFERS"}`
  )

  const missing = yield* Effect.flip(Transfer.upload(server.url("/upload"), [Transfer.file("f", `${dir}/nope.bin`)]))
  if (missing._tag === "FileSystemError") {
    yield* Console.log(`nope.bin: FileSystemError (${missing.operation}, ${missing.reason}), nothing sent`)
  }
  yield* Console.log(`requests the server saw: ${(yield* server.stats).total}`)
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.merge(NodeHttpClient.layerUndici, NodeFileSystem.layer))
)
