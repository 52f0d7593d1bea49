/**
 * Task introspection: a registry of task sources (supervisors, task groups) and the `/debug/tasks` route.
 *
 * @internal
 */
import type * as TaskGroup from "@async-ops/core/TaskGroup"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Introspection as IntrospectionShape, Source, Stats, TaskEntry } from "../Introspection.ts"

/** @internal */
export type Introspection = IntrospectionShape
/** @internal */
export const Introspection: Context.Service<Introspection, Introspection> = Context.Service<Introspection>(
  "@async-ops/service/Introspection"
)

/** @internal */
export const make: Effect.Effect<IntrospectionShape> = Effect.sync(() => {
  const sources = new Set<Source>()
  const add = (source: Source): Effect.Effect<void, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.sync(() => {
        // A copy, so the same source object added twice is listed (and removed) twice.
        const own: Source = { ...source }
        sources.add(own)
        return own
      }),
      (own) => Effect.sync(() => sources.delete(own))
    ).pipe(Effect.asVoid)
  const tasks = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const lists = yield* Effect.forEach(
      Array.from(sources),
      (source) =>
        Effect.map(source.tasks, (list) =>
          list.map((t): TaskEntry => ({
            name: t.name,
            owner: source.owner,
            kind: source.kind,
            state: t.state,
            ageMs: Math.max(0, now - t.startedAt)
          })))
    )
    return lists.flat()
  })
  const stats = Effect.map(tasks, (list): Stats => ({ sources: sources.size, tasks: list.length }))
  return Introspection.of({ add, tasks, stats })
})

/** @internal */
export const layer: Layer.Layer<Introspection> = Layer.effect(Introspection, make)

/** @internal */
export const register = (source: Source): Effect.Effect<void, never, Introspection | Scope.Scope> =>
  Effect.flatMap(Introspection, (i) => i.add(source))

/** @internal */
export const registerIfPresent = (source: Source): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(
    Effect.serviceOption(Introspection),
    (option) => option._tag === "Some" ? option.value.add(source) : Effect.void
  )

/** @internal */
export const track = (
  name: string,
  group: TaskGroup.TaskGroup
): Effect.Effect<void, never, Introspection | Scope.Scope> =>
  // The first read of `tasks` switches on the group's start times.
  Effect.andThen(
    group.tasks,
    register({
      owner: name,
      kind: "TaskGroup",
      tasks: Effect.map(group.tasks, (list) =>
        list.map((t) => ({ name: t.name, state: "running", startedAt: t.startedAt })))
    })
  )

/** @internal */
export const tasks: Effect.Effect<ReadonlyArray<TaskEntry>, never, Introspection> = Effect.flatMap(
  Introspection,
  (i) => i.tasks
)

/** @internal */
export const stats: Effect.Effect<Stats, never, Introspection> = Effect.flatMap(Introspection, (i) => i.stats)

/** @internal */
export const routes: Layer.Layer<never, never, HttpRouter.HttpRouter | Introspection> = Layer.unwrap(
  Effect.map(Introspection, (i) =>
    HttpRouter.add(
      "GET",
      "/debug/tasks",
      Effect.map(
        i.tasks,
        (list) => HttpServerResponse.jsonUnsafe(list, { headers: { "cache-control": "no-store" } })
      )
    ))
)
