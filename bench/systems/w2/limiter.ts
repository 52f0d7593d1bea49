// W2 bounded: @async-ops/core's Limiter (limit 100) around every task, forEach unbounded over all of them: the
// literal Semaphore + gather pattern (and p-limit's) on our limiter, every task parked on it.
import * as Limiter from "@async-ops/core/Limiter"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const limiter = yield* Limiter.make({ limit: params["concurrency"] ?? 100 })
    const results = yield* Effect.forEach(range(size), (i) => limiter.withPermit(immediateEffect(i)), {
      concurrency: "unbounded"
    })
    return sumInOrder(results)
  })
)
