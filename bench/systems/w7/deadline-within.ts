// W7 wrapper cost: N sequential calls, each awaiting one macrotask under Deadline.within(1 second).
import * as Deadline from "@async-ops/core/Deadline"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size }) =>
  Effect.forEach(range(size), (i) => Deadline.within(immediateEffect(i), "1 second")).pipe(Effect.map(sumInOrder))
)
