// W5 memory: N bare Effect fibers (Effect.forEach unbounded, results discarded), each Effect.sleep(1 s).
import * as Effect from "effect/Effect"
import { range } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) => {
  const sleep = Effect.sleep(params["sleepMs"] ?? 1000)
  return Effect.forEach(range(size), () => sleep, { concurrency: "unbounded", discard: true }).pipe(
    Effect.as(size)
  )
})
