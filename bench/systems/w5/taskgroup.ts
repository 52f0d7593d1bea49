// W5 memory: N tasks spawned into one TaskGroup (handles not kept), each Effect.sleep(1 s).
import * as TaskGroup from "@async-ops/core/TaskGroup"
import * as Effect from "effect/Effect"
import { range } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) => {
  const sleep = Effect.sleep(params["sleepMs"] ?? 1000)
  return TaskGroup.scoped((group) => Effect.forEach(range(size), () => group.spawn(sleep), { discard: true })).pipe(
    Effect.as(size)
  )
})
