// W4 fetch-all: the HttpResilience client (`layerUndici`, defaults but 100 connections per host: retries, timeouts,
// pool-wait limit, size cap all on) called from `Effect.forEach` with concurrency 100.
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) => {
  const base = `http://127.0.0.1:${params["port"]}`
  const concurrency = params["concurrency"] ?? 100
  return Effect.gen(function*() {
    const client = yield* HttpResilience.ResilientClient
    const results = yield* Effect.forEach(
      range(size),
      (i) => Effect.map(client.get(`${base}/${i}`), (response) => Number(response.text)),
      { concurrency }
    )
    return sumInOrder(results)
  }).pipe(Effect.provide(HttpResilience.layerUndici({ maxConnectionsPerHost: concurrency })))
})
