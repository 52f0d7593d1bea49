// W2 bounded: TaskGroup.scoped with concurrency 100: N spawns up front (all but 100 wait for a slot), joined in order.
import * as TaskGroup from "@async-ops/core/TaskGroup"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect, immediateEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  TaskGroup.scoped(
    (group) =>
      Effect.gen(function*() {
        const tasks = yield* Effect.forEach(range(size), (i) => group.spawn(immediateEffect(i)))
        return yield* Effect.forEach(tasks, (task) => task.join)
      }),
    { concurrency: params["concurrency"] ?? 100 }
  ).pipe(Effect.map(sumInOrder))
)
