// W7 wrapper cost: 100 fibers contend for one Mutex, N acquisitions in all, each holding it across one macrotask.
import * as Mutex from "@async-ops/core/Mutex"
import * as Effect from "effect/Effect"
import { range } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const mutex = yield* Mutex.make
    const fibers = params["fibers"] ?? 100
    let sum = 0
    yield* Effect.forEach(
      range(fibers),
      (f) =>
        Effect.forEach(
          range(Math.ceil((size - f) / fibers)),
          (k) => Mutex.withLock(mutex, Effect.map(immediateEffect(f + k * fibers), (i) => (sum += i))),
          { discard: true }
        ),
      { concurrency: "unbounded", discard: true }
    )
    return sum
  })
)
