// W7 wrapper cost: N sequential calls, each awaiting one macrotask under Effect.timeout(1 second).
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size }) =>
  Effect.forEach(range(size), (i) => Effect.timeout(immediateEffect(i), "1 second")).pipe(Effect.map(sumInOrder))
)
