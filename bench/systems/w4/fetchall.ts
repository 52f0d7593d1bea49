// W4 fetch-all: `FetchAll.fetchAll` over the URLs with concurrency 100, through the HttpResilience client
// (`layerUndici`, defaults but 100 connections per host); every outcome must be a success.
import * as FetchAll from "@async-ops/http/FetchAll"
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) => {
  const base = `http://127.0.0.1:${params["port"]}`
  const concurrency = params["concurrency"] ?? 100
  return Effect.gen(function*() {
    const settled = yield* FetchAll.fetchAll(range(size).map((i) => `${base}/${i}`), { concurrency })
    if (settled.successes.length !== size) {
      return yield* Effect.die(new Error(`${size - settled.successes.length} request(s) did not succeed`))
    }
    return sumInOrder(settled.successes.map((o) => Number(o.value.text)))
  }).pipe(Effect.provide(HttpResilience.layerUndici({ maxConnectionsPerHost: concurrency })))
})
