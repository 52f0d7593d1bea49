// W1 gather: TaskGroup.scoped with N spawns; the body joins the handles in spawn order.
import * as TaskGroup from "@async-ops/core/TaskGroup"
import * as Effect from "effect/Effect"
import { range, sumInOrder } from "../../runner.ts"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size }) =>
  TaskGroup.scoped((group) =>
    Effect.gen(function*() {
      const tasks = yield* Effect.forEach(range(size), (i) => group.spawn(Effect.sync(() => i)))
      return yield* Effect.forEach(tasks, (task) => task.join)
    })
  ).pipe(Effect.map(sumInOrder))
)
