// W2 bounded: Effect.forEach with concurrency 100.
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Effect.forEach(range(size), (i) => immediateEffect(i), { concurrency: params["concurrency"] ?? 100 }).pipe(
    Effect.map(sumInOrder)
  )
)
