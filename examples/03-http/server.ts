/**
 * Replaces an aiohttp `web.Application` with `web.RouteTableDef` routes (`@routes.get("/users/{id}")`,
 * `request.match_info["id"]`, `await request.json()`, `web.json_response(...)`) run by `web.AppRunner` +
 * `web.TCPSite`: routes are Layers of effect/http's `HttpRouter`, served by `NodeHttpServer` on a free port and
 * stopped when the program's scope closes.
 */
import { HttpResilience, HttpResilienceError } from "@async-ops/http"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Effect, Layer, Ref, Schema } from "effect"
import { HttpBody, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"

interface User {
  readonly id: number
  readonly name: string
}
const NewUser = Schema.Struct({ name: Schema.NonEmptyString })
const UserPath = Schema.Struct({ id: Schema.FiniteFromString })

/** The routes over an in-memory store: `GET /users`, `GET /users/:id`, `POST /users`, `DELETE /users/:id`. */
const routes = (store: Ref.Ref<ReadonlyArray<User>>) =>
  Layer.mergeAll(
    HttpRouter.add("GET", "/health", HttpServerResponse.text("ok")),
    HttpRouter.add("GET", "/users", Effect.flatMap(Ref.get(store), (users) => HttpServerResponse.json(users))),
    HttpRouter.add(
      "GET",
      "/users/:id",
      Effect.gen(function*() {
        const { id } = yield* HttpRouter.schemaPathParams(UserPath)
        const user = (yield* Ref.get(store)).find((u) => u.id === id)
        return user === undefined
          ? HttpServerResponse.jsonUnsafe({ error: `no user ${id}` }, { status: 404 })
          : HttpServerResponse.jsonUnsafe(user)
      }).pipe(
        Effect.catchTag("SchemaError", () =>
          Effect.succeed(HttpServerResponse.jsonUnsafe({ error: "bad id" }, { status: 400 })))
      )
    ),
    HttpRouter.add(
      "POST",
      "/users",
      Effect.gen(function*() {
        const { name } = yield* HttpServerRequest.schemaBodyJson(NewUser)
        const user = yield* Ref.modify(store, (users): [User, ReadonlyArray<User>] => {
          const created = { id: users.length + 1, name }
          return [created, [...users, created]]
        })
        return HttpServerResponse.jsonUnsafe(user, { status: 201, headers: { location: `/users/${user.id}` } })
      }).pipe(
        Effect.catchTag(
          "SchemaError",
          () =>
            Effect.succeed(HttpServerResponse.jsonUnsafe({ error: "name must be a non-empty string" }, { status: 422 }))
        )
      )
    ),
    HttpRouter.add(
      "DELETE",
      "/users/:id",
      Effect.gen(function*() {
        const { id } = yield* HttpRouter.schemaPathParams(UserPath)
        yield* Ref.update(store, (users) =>
          users.filter((u) => u.id !== id))
        return HttpServerResponse.empty({ status: 204 })
      })
    )
  )

/** The server on a free loopback port; `provideMerge` keeps `HttpServer` visible so the program can read its address. */
const serverLayer = (store: Ref.Ref<ReadonlyArray<User>>) =>
  HttpRouter.serve(routes(store), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )

export const program = Effect.gen(function*() {
  const store = yield* Ref.make<ReadonlyArray<User>>([{ id: 1, name: "Ada" }])
  yield* Effect.gen(function*() {
    const base = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url))
    yield* Console.log("-- server listening on a free port")
    const client = yield* HttpResilience.ResilientClient
    const call = (effect: Effect.Effect<HttpResilience.Response, HttpResilienceError.HttpError>) =>
      effect.pipe(
        Effect.map((res) => `${res.status} ${res.text || "(empty)"}`),
        Effect.catchTag("StatusError", (e) => Effect.succeed(`${e.status} ${e.body || "(empty)"}`)),
        Effect.flatMap(Console.log)
      )
    yield* call(client.get(`${base}/health`))
    yield* call(client.get(`${base}/users/1`))
    yield* call(client.post(`${base}/users`, { body: HttpBody.jsonUnsafe({ name: "Grace" }) }))
    yield* call(client.post(`${base}/users`, { body: HttpBody.jsonUnsafe({ name: "" }) }))
    yield* call(client.get(`${base}/users`))
    yield* call(client.get(`${base}/users/9`))
    yield* call(client.get(`${base}/users/abc`))
    yield* call(client.del(`${base}/users/1`))
    yield* call(client.get(`${base}/users`))
    yield* call(client.get(`${base}/nowhere`))
  }).pipe(
    // the client is released first (its keep-alive sockets closed), then the server stops at once
    Effect.provide(HttpResilience.layerUndici({ retry: false })),
    Effect.provide(serverLayer(store))
  )
  yield* Console.log("-- server stopped with the scope")
})
