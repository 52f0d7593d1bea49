/**
 * Replaces aiohttp's WebSocket client (`async with session.ws_connect(url) as ws:`, `await ws.send_str(...)`,
 * `msg = await ws.receive()` until `WSMsgType.CLOSED`) and its `web.WebSocketResponse` echo handler: the client is
 * effect's `Socket.makeWebSocket` on Node's WebSocket (`NodeSocket.layerWebSocketConstructor`), the server an
 * `HttpRouter` route that upgrades with `HttpServerRequest.upgrade`, both closed by their scopes.
 */
import { NodeHttpServer, NodeSocket } from "@effect/platform-node"
import { Console, Deferred, Effect, Layer, Ref } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Socket } from "effect/socket"
import { createServer } from "node:http"

/** A clean close (code 1000) ends a reader with a `SocketCloseError`; anything else is a real failure. */
const closedWith = (error: Socket.SocketError): number | undefined =>
  error.reason._tag === "SocketCloseError" ? error.reason.code : undefined

/**
 * The echo endpoint: upgrade, then answer every text frame with `echo: <text>` until the client closes. What it
 * saw goes to `log` (printed by the client side at the end, so the output order does not depend on scheduling).
 */
const echoRoute = (log: Ref.Ref<ReadonlyArray<string>>, closed: Deferred.Deferred<number>) =>
  HttpRouter.add(
    "GET",
    "/ws",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const socket = yield* request.upgrade
      yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Socket.readerString(socket)
        const { write } = yield* socket.writer
        let count = 0
        while (true) {
          for (const text of yield* pull) {
            count++
            yield* write(`echo: ${text}`)
          }
          yield* Ref.set(log, [`server: echoed ${count} messages`])
        }
      })).pipe(
        Effect.catch((error) => {
          const code = closedWith(error)
          return code === undefined ? Effect.fail(error) : Deferred.succeed(closed, code)
        })
      )
      return HttpServerResponse.empty()
    })
  )

const serverLayer = (log: Ref.Ref<ReadonlyArray<string>>, closed: Deferred.Deferred<number>) =>
  HttpRouter.serve(echoRoute(log, closed), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )

export const program = Effect.gen(function*() {
  const log = yield* Ref.make<ReadonlyArray<string>>([])
  const closed = yield* Deferred.make<number>()
  yield* Effect.gen(function*() {
    const url = yield* HttpServer.addressFormattedWith((base) => Effect.succeed(`${base.replace(/^http/, "ws")}/ws`))
    yield* Console.log("-- echo server listening on a free port")
    const socket = yield* Socket.makeWebSocket(url)
    yield* Effect.scoped(Effect.gen(function*() {
      // acquiring the reader opens the connection (ws_connect); the writer sends on it
      const pull = yield* Socket.readerString(socket)
      const { write } = yield* socket.writer
      yield* Console.log("client: connected")
      for (let i = 1; i <= 3; i++) {
        yield* write(`message ${i}`)
        for (const reply of yield* pull) yield* Console.log(`client: sent "message ${i}", got "${reply}"`)
      }
      // a close frame, then wait for the server's closing handshake: the reader ends with code 1000
      yield* write(new Socket.CloseEvent(1000, "done"))
      const code = yield* Effect.flip(pull).pipe(Effect.map(closedWith))
      yield* Console.log(`client: closed with code ${code}`)
    }))
    yield* Console.log(`server: saw the close with code ${yield* Deferred.await(closed)}`)
    for (const line of yield* Ref.get(log)) yield* Console.log(line)
  }).pipe(
    Effect.provide(NodeSocket.layerWebSocketConstructor),
    Effect.provide(serverLayer(log, closed))
  )
  yield* Console.log("-- server stopped with the scope")
})
