/**
 * Replaces aiohttp's `async with session.get(url) as resp: resp.status, resp.headers, await resp.json(), await
 * resp.text()` and the size check you write yourself around `resp.content.read(n)`: a response here is read whole,
 * bounded by `maxResponseBytes`, with the status, headers, text and a decoding `json`.
 */
import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Console, Effect, Layer, Schema } from "effect"

const Server = FaultServer.layer({
  routes: {
    "/user": {
      reply: {
        body: JSON.stringify({ id: 7, name: "Ada", roles: ["admin", "dev"] }),
        headers: { "content-type": "application/json", etag: "\"v3\"" }
      }
    },
    "/hello": { reply: { body: "héllo, wörld" } },
    "/created": { reply: { status: 201, body: "", headers: { location: "/user/8" } } },
    "/big": { reply: { kind: "large", bytes: 200_000 } },
    "/medium": { reply: { kind: "large", bytes: 40_000 } }
  }
})

const Client = HttpResilience.layerUndici({ retry: false, maxResponseBytes: 64 * 1024 })

const User = Schema.Struct({ id: Schema.Number, name: Schema.String, roles: Schema.Array(Schema.String) })

export const program = Effect.gen(function*() {
  const server = yield* FaultServer.FaultServer
  const client = yield* HttpResilience.ResilientClient

  yield* Console.log("-- status, headers and JSON decoded with a Schema")
  const res = yield* client.get(server.url("/user"))
  yield* Console.log(`status: ${res.status}`)
  yield* Console.log(`content-type: ${res.headers["content-type"]}, etag: ${res.headers["etag"]}`)
  const user = yield* Schema.decodeUnknownEffect(User)(yield* res.json)
  yield* Console.log(`user ${user.id}: ${user.name}, roles ${user.roles.join("+")}`)

  yield* Console.log("-- text (UTF-8) and the raw bytes")
  const hello = yield* client.get(server.url("/hello"))
  yield* Console.log(`text: ${hello.text} (${hello.text.length} characters, ${hello.body.byteLength} bytes)`)

  yield* Console.log("-- a 201 with a Location header and an empty body")
  const created = yield* client.post(server.url("/created"))
  yield* Console.log(
    `status: ${created.status}, location: ${created.headers["location"]}, json: ${yield* created.json}`
  )

  yield* Console.log("-- HEAD: the headers without the body")
  const head = yield* client.head(server.url("/medium"))
  yield* Console.log(`content-length: ${head.headers["content-length"]}, body read: ${head.body.byteLength} bytes`)

  yield* Console.log("-- the size cap (64 KiB): 40 kB passes, 200 kB is refused, and the client carries on")
  const medium = yield* client.get(server.url("/medium"))
  yield* Console.log(`40 kB: ${medium.body.byteLength} bytes read`)
  const tooBig = yield* Effect.flip(client.get(server.url("/big")))
  yield* Console.log(
    tooBig._tag === "BodyTooLargeError"
      ? `200 kB: BodyTooLargeError (limit ${tooBig.limit}, announced ${tooBig.received})`
      : `200 kB: ${tooBig._tag}`
  )
  yield* Console.log(`next call: ${(yield* client.get(server.url("/hello"))).status}`)
}).pipe(Effect.provide(Layer.merge(Server, Client)))
