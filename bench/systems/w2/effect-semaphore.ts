// W2 bounded: the seed's Pattern 2 ported literally: every task forked at once (forEach unbounded) and parked on
// one Effect Semaphore of 100 permits. Run at full size since effect 4.1.5 reworked the release (466 s at
// N = 100,000 on 4.1.0).
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
