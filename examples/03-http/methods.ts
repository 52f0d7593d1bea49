/**
 * Replaces aiohttp's `session.get(url, params=...)`, `session.post(url, json=...)`, `session.put(...)` and
 * `session.delete(...)`: every method with query parameters, headers and JSON bodies, against FaultServer's echo
 * route, which answers with the request it received.
 */
import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Console, Effect, Layer, Schema } from "effect"
import { HttpBody, HttpClientRequest } from "effect/http"

const Server = FaultServer.layer({ routes: { "/api/*": { reply: "echo" } } })
const Client = HttpResilience.layerUndici({ retry: false })

/** The part of FaultServer's echo this example reads. */
const Echo = Schema.Struct({
  method: Schema.String,
  path: Schema.String,
  query: Schema.Record(Schema.String, Schema.String),
  headers: Schema.Record(Schema.String, Schema.String),
  body: Schema.String
})

const show = (res: HttpResilience.Response) =>
  Effect.gen(function*() {
    const echo = yield* Schema.decodeUnknownEffect(Echo)(yield* res.json)
    const query = new URLSearchParams(echo.query).toString()
    const type = echo.headers["content-type"] ?? "-"
    yield* Console.log(
      `${res.status} ${echo.method} ${echo.path}${query === "" ? "" : `?${query}`} [${type}] ${
        echo.body || "(no body)"
      }`
    )
    return echo
  })

export const program = Effect.gen(function*() {
  const server = yield* FaultServer.FaultServer
  const client = yield* HttpResilience.ResilientClient
  const url = (path: string) => server.url(`/api${path}`)

  yield* Console.log("-- GET with query parameters")
  yield* show(yield* client.get(url("/users"), { urlParams: { page: "2", sort: "name" } }))

  yield* Console.log("-- POST, PUT and PATCH with JSON bodies")
  yield* show(yield* client.post(url("/users"), { body: HttpBody.jsonUnsafe({ name: "Ada", admin: false }) }))
  yield* show(yield* client.put(url("/users/7"), { body: HttpBody.jsonUnsafe({ name: "Ada Lovelace" }) }))
  yield* show(yield* client.patch(url("/users/7"), { body: HttpBody.jsonUnsafe({ admin: true }) }))

  yield* Console.log("-- DELETE with a header")
  const deleted = yield* show(yield* client.del(url("/users/7"), { headers: { "if-match": "\"v3\"" } }))
  yield* Console.log(`if-match arrived: ${deleted.headers["if-match"]}`)

  yield* Console.log("-- any request built with HttpClientRequest")
  const request = HttpClientRequest.post(url("/search")).pipe(
    HttpClientRequest.setHeader("x-request-id", "r-1"),
    HttpClientRequest.bodyText("ada", "text/plain")
  )
  const echo = yield* show(yield* client.execute(request))
  yield* Console.log(`x-request-id arrived: ${echo.headers["x-request-id"]}`)
}).pipe(Effect.provide(Layer.merge(Server, Client)))
