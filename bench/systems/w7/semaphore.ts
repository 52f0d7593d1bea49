// W7 wrapper cost: 100 fibers contend for one Effect Semaphore of `permits` permits (1: a mutex), N acquisitions
// in all, each holding a permit across one macrotask.
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { range } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const semaphore = yield* Semaphore.make(params["permits"] ?? 1)
    const fibers = params["fibers"] ?? 100
    let sum = 0
    yield* Effect.forEach(
      range(fibers),
      (f) =>
        Effect.forEach(
          range(Math.ceil((size - f) / fibers)),
          (k) => semaphore.withPermit(Effect.map(immediateEffect(f + k * fibers), (i) => (sum += i))),
          { discard: true }
        ),
      { concurrency: "unbounded", discard: true }
    )
    return sum
  })
)
