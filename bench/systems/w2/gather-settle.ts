// W2 bounded: Gather.settle with concurrency 100.
import * as Gather from "@async-ops/core/Gather"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Gather.settle(range(size), (i) => immediateEffect(i), { concurrency: params["concurrency"] ?? 100 }).pipe(
    Effect.map((settled) => sumInOrder(settled.successes.map((o) => o.value)))
  )
)
