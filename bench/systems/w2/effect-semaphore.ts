// W2 bounded: the seed's Pattern 2 ported literally: every task forked at once (forEach unbounded) and parked on
// one Effect Semaphore of 100 permits. Effect 4.1's Semaphore is quadratic in its waiters: the harness caps N.
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const semaphore = yield* Semaphore.make(params["concurrency"] ?? 100)
    const results = yield* Effect.forEach(range(size), (i) => semaphore.withPermit(immediateEffect(i)), {
      concurrency: "unbounded"
    })
    return sumInOrder(results)
  })
)
