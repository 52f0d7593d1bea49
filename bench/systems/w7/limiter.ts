// W7 wrapper cost: as semaphore.ts with 10 permits, on @async-ops/core's Limiter (limit 10).
import * as Limiter from "@async-ops/core/Limiter"
import * as Effect from "effect/Effect"
import { range } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const limiter = yield* Limiter.make({ limit: params["permits"] ?? 10 })
    const fibers = params["fibers"] ?? 100
    let sum = 0
    yield* Effect.forEach(
      range(fibers),
      (f) =>
        Effect.forEach(
          range(Math.ceil((size - f) / fibers)),
          (k) => limiter.withPermit(Effect.map(immediateEffect(f + k * fibers), (i) => (sum += i))),
          { discard: true }
        ),
      { concurrency: "unbounded", discard: true }
    )
    return sum
  })
)
