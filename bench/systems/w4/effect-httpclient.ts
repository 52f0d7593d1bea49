// W4 fetch-all: Effect's HttpClient on undici (`NodeHttpClient.layerUndici`, its own Agent), `Effect.forEach` with
// concurrency 100, each body read as text. Tracing as configured by the `tracing` parameter: 1 (Effect's default, a
// span per request) or 0 (`HttpClient.TracerDisabledWhen` set to always).
import { NodeHttpClient } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { constTrue } from "effect/Function"
import * as HttpClient from "effect/http/HttpClient"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) => {
  const base = `http://127.0.0.1:${params["port"]}`
  const work = Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const results = yield* Effect.forEach(
      range(size),
      (i) =>
        Effect.flatMap(client.get(`${base}/${i}`), (response) =>
          response.status === 200
            ? Effect.map(response.text, Number)
            : Effect.die(new Error(`GET /${i}: status ${response.status}`))),
      { concurrency: params["concurrency"] ?? 100 }
    )
    return sumInOrder(results)
  })
  const traced = params["tracing"] === 0 ? Effect.provideService(work, HttpClient.TracerDisabledWhen, constTrue) : work
  return traced.pipe(Effect.provide(NodeHttpClient.layerUndici))
})
