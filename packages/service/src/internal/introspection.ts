/**
 * Task introspection: a registry of task sources (supervisors, task groups) and the `/debug/tasks` route.
 *
 * @internal
 */
import * as Registry from "@async-ops/core/Registry"
import type * as TaskGroup from "@async-ops/core/TaskGroup"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Introspection as IntrospectionShape, Snapshot, Source, Stats, TaskEntry } from "../Introspection.ts"

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
    Layer.merge(
      HttpRouter.add(
        "GET",
        "/debug/tasks",
        Effect.map(
          i.tasks,
          (list) => HttpServerResponse.jsonUnsafe(list, { headers: { "cache-control": "no-store" } })
        )
      ),
      HttpRouter.add(
        "GET",
        SNAPSHOT_PATH,
        Effect.map(
          Effect.provideService(snapshot, Introspection, i),
          (s) => HttpServerResponse.jsonUnsafe(s, { headers: { "cache-control": "no-store" } })
        )
      )
    ))
)

// ---------------------------------------------------------------------------------------------------------------
// The snapshot of the whole process: tasks and live primitives (the `async-ops top` feed)
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export class SnapshotError extends Data.TaggedError("SnapshotError")<{
  readonly reason: "NotAsyncOps" | "Version" | "Invalid"
  readonly message: string
}> {}

/** @internal */
export const SNAPSHOT_VERSION = 1

/** @internal */
export const SNAPSHOT_PATH = "/debug/async-ops"

const TaskEntrySchema = Schema.Struct({
  name: Schema.String,
  owner: Schema.String,
  kind: Schema.String,
  state: Schema.String,
  ageMs: Schema.Number
})

const PrimitiveSchema = Schema.Struct({
  kind: Schema.String,
  name: Schema.String,
  stats: Schema.Record(Schema.String, Schema.Unknown)
})

/** @internal */
export const SnapshotSchema = Schema.Struct({
  service: Schema.Literal("async-ops"),
  version: Schema.Literal(SNAPSHOT_VERSION),
  at: Schema.Number,
  uptimeMs: Schema.Number,
  tasks: Schema.Array(TaskEntrySchema),
  primitives: Schema.Array(PrimitiveSchema)
})

/** @internal */
export const snapshot: Effect.Effect<Snapshot, never, Introspection> = Effect.gen(function*() {
  const introspection = yield* Introspection
  const now = yield* Clock.currentTimeMillis
  const list = yield* introspection.tasks
  const primitives = yield* Registry.snapshot
  return {
    service: "async-ops" as const,
    version: SNAPSHOT_VERSION,
    at: now,
    uptimeMs: Math.round(process.uptime() * 1000),
    tasks: list,
    primitives: primitives.map((p) => ({ kind: p.kind, name: p.name, stats: jsonSafe(p.stats) }))
  }
})

/** Stats as JSON keeps them: non-finite numbers become `null` (an unbounded limit), nested records kept. */
const jsonSafe = (stats: Readonly<Record<string, unknown>>): Record<string, unknown> =>
  JSON.parse(JSON.stringify(stats, (_key, value: unknown) => typeof value === "bigint" ? Number(value) : value))

/** @internal */
export const decodeSnapshot = (body: unknown): Effect.Effect<Snapshot, SnapshotError> => {
  if (typeof body !== "object" || body === null || (body as { service?: unknown }).service !== "async-ops") {
    return Effect.fail(
      new SnapshotError({ reason: "NotAsyncOps", message: "the response is not an async-ops snapshot" })
    )
  }
  const version = (body as { version?: unknown }).version
  if (version !== SNAPSHOT_VERSION) {
    return Effect.fail(
      new SnapshotError({
        reason: "Version",
        message: `snapshot version ${String(version)} is not supported (this console reads version ${SNAPSHOT_VERSION})`
      })
    )
  }
  return Schema.decodeUnknownEffect(SnapshotSchema)(body).pipe(
    Effect.mapError((e) => new SnapshotError({ reason: "Invalid", message: `invalid snapshot: ${e.message}` }))
  )
}
