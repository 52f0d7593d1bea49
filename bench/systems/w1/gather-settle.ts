// W1 gather: Gather.settle (unbounded, the asyncio.gather default), one outcome per task, values in input order.
import * as Gather from "@async-ops/core/Gather"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size }) =>
  Gather.settle(range(size), (i) => Effect.sync(() => i)).pipe(
    Effect.map((settled) => sumInOrder(settled.successes.map((o) => o.value)))
  )
)
