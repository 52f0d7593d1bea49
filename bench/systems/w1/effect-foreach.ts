// W1 gather: Effect.forEach with unbounded concurrency, one fiber per task (`Effect.sync`, not `Effect.succeed`,
// which Effect.forEach would record without a fiber).
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size }) =>
  Effect.forEach(range(size), (i) => Effect.sync(() => i), { concurrency: "unbounded" }).pipe(
    Effect.map(sumInOrder)
  )
)
