/**
 * Task introspection for a running service: a registry of the live tasks of every `Supervisor` (they register
 * themselves when the registry is in context) and of the `TaskGroup`s you {@link track}, served as
 * `GET /debug/tasks` (name, owner, age, state), and a snapshot of the whole process, `GET /debug/async-ops`: the
 * same tasks plus every live named primitive of `@async-ops/core`'s `Registry` with its stats (the feed of the
 * `async-ops top` console, versioned and described by {@link SnapshotSchema}). It answers aiomonitor's `ps` (and `asyncio.all_tasks()` dumps):
 * what is running, who started it, and for how long, without attaching a debugger.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection, Supervisor } from "@async-ops/service"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sup = yield* Supervisor.make({ name: "workers" })
 *   yield* sup.start("consumer", Effect.never)
 *   return yield* Introspection.tasks // => [{ name: "consumer", owner: "workers", kind: "Supervisor", state: "running", ageMs: 0 }]
 * })).pipe(Effect.provide(Introspection.layer))
 * ```
 *
 * @see https://aiomonitor.aio-libs.org/
 * @since 0.1.0
 */
import type * as TaskGroup from "@async-ops/core/TaskGroup"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as HttpRouter from "effect/http/HttpRouter"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/introspection.ts"

/**
 * A live task as a source reports it: name, state, and when it started (`Clock` epoch ms).
 *
 * @category models
 * @since 0.1.0
 */
export interface SourceTask {
  readonly name: string
  readonly state: string
  readonly startedAt: number
}

/**
 * A source of live tasks: its owner's name, what it is, and a read of its live tasks now.
 *
 * @category models
 * @since 0.1.0
 */
export interface Source {
  readonly owner: string
  readonly kind: "Supervisor" | "TaskGroup" | "custom"
  readonly tasks: Effect.Effect<ReadonlyArray<SourceTask>>
}

/**
 * One live task in a listing: its name, the owner (supervisor or group name) and its kind, its state, and its
 * age in milliseconds (`Clock` time since the current run started).
 *
 * @category models
 * @since 0.1.0
 */
export interface TaskEntry {
  readonly name: string
  readonly owner: string
  readonly kind: Source["kind"]
  readonly state: string
  readonly ageMs: number
}

/**
 * Counts of the registry: sources registered and live tasks now.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly sources: number
  readonly tasks: number
}

/**
 * The registry's operations (what `yield* Introspection.Introspection` gives).
 *
 * @category models
 * @since 0.1.0
 */
export interface Introspection {
  readonly add: (source: Source) => Effect.Effect<void, never, Scope.Scope>
  readonly tasks: Effect.Effect<ReadonlyArray<TaskEntry>>
  readonly stats: Effect.Effect<Stats>
}

/**
 * The registry service. Provide it with {@link layer} before making supervisors so they register themselves.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const program = Effect.flatMap(Introspection.Introspection, (i) => i.tasks).pipe(
 *   Effect.provide(Introspection.layer)
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Introspection: Context.Service<Introspection, Introspection> = internal.Introspection

/**
 * The registry as a layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const program = Introspection.tasks.pipe(Effect.provide(Introspection.layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Introspection> = internal.layer

/**
 * Lists the running tasks of a `TaskGroup` under `name` for the lifetime of the current `Scope` (tasks waiting
 * for a `concurrency` slot are not listed). Tasks leave the listing as they end.
 *
 * **When to use**: inside `TaskGroup.scoped`, for groups that run long enough to be worth watching.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskGroup } from "@async-ops/core"
 * import { Introspection } from "@async-ops/service"
 *
 * const program = TaskGroup.scoped((group) =>
 *   Effect.gen(function*() {
 *     yield* Introspection.track("crawler", group)
 *     yield* group.spawn(Effect.never, { name: "fetch-1" })
 *   }).pipe(Effect.scoped)
 * ).pipe(Effect.provide(Introspection.layer))
 * ```
 *
 * @category registration
 * @since 0.1.0
 */
export const track: (
  name: string,
  group: TaskGroup.TaskGroup
) => Effect.Effect<void, never, Introspection | Scope.Scope> = internal.track

/**
 * Registers any source of tasks for the lifetime of the current `Scope`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const program = Introspection.register({
 *   owner: "scheduler",
 *   kind: "custom",
 *   tasks: Effect.succeed([{ name: "nightly", state: "waiting", startedAt: 0 }])
 * })
 * ```
 *
 * @category registration
 * @since 0.1.0
 */
export const register: (source: Source) => Effect.Effect<void, never, Introspection | Scope.Scope> = internal.register

/**
 * The live tasks of every registered source now, sources in registration order.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const names = Effect.map(Introspection.tasks, (ts) => ts.map((t) => `${t.owner}/${t.name}`))
 * ```
 *
 * @category reads
 * @since 0.1.0
 */
export const tasks: Effect.Effect<ReadonlyArray<TaskEntry>, never, Introspection> = internal.tasks

/**
 * The registry's counts now.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const program = Effect.map(Introspection.stats, (s) => s.tasks)
 * ```
 *
 * @category reads
 * @since 0.1.0
 */
export const stats: Effect.Effect<Stats, never, Introspection> = internal.stats

/**
 * The version of the snapshot format this build serves and reads.
 *
 * @example
 * ```ts
 * import { Introspection } from "@async-ops/service"
 *
 * Introspection.snapshotVersion // 1
 * ```
 *
 * @category snapshot
 * @since 0.1.0
 */
export const snapshotVersion: 1 = internal.SNAPSHOT_VERSION

/**
 * The path of the snapshot route, `/debug/async-ops`.
 *
 * @example
 * ```ts
 * import { Introspection } from "@async-ops/service"
 *
 * const url = `http://127.0.0.1:8080${Introspection.snapshotPath}`
 * ```
 *
 * @category snapshot
 * @since 0.1.0
 */
export const snapshotPath: string = internal.SNAPSHOT_PATH

/**
 * The schema of a snapshot: `service: "async-ops"`, the `version`, when it was taken (`at`, epoch ms) and the
 * process uptime, the live tasks, and the live primitives (`kind`, `name`, `stats` as a JSON record; an unbounded
 * limit reads `null`).
 *
 * **When to use**: to decode the JSON of `/debug/async-ops` in your own tools (or use {@link decodeSnapshot}).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const decode = Schema.decodeUnknownSync(Introspection.SnapshotSchema)
 * ```
 *
 * @category snapshot
 * @since 0.1.0
 */
export const SnapshotSchema = internal.SnapshotSchema

/**
 * A snapshot of a process: its tasks and its live named primitives.
 *
 * @category snapshot
 * @since 0.1.0
 */
export type Snapshot = Schema.Schema.Type<typeof internal.SnapshotSchema>

/**
 * What was read is not a snapshot this build can show: `NotAsyncOps` (no `service: "async-ops"` marker: some
 * other server), `Version` (another snapshot version: upgrade one side), `Invalid` (the shape does not match).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const program = Introspection.decodeSnapshot({ service: "async-ops", version: 99 }).pipe(
 *   Effect.catchTag("SnapshotError", (e) => Effect.succeed(e.reason)) // "Version"
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const SnapshotError = internal.SnapshotError

/**
 * @category errors
 * @since 0.1.0
 */
export type SnapshotError = internal.SnapshotError

/**
 * The snapshot of the process now (what `GET /debug/async-ops` serves).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const kinds = Effect.map(Introspection.snapshot, (s) => s.primitives.map((p) => p.kind))
 * ```
 *
 * @category snapshot
 * @since 0.1.0
 */
export const snapshot: Effect.Effect<Snapshot, never, Introspection> = internal.snapshot

/**
 * Decodes a parsed JSON body into a {@link Snapshot}, failing with a {@link SnapshotError} that says whether it is
 * not an async-ops snapshot at all, a snapshot of another version, or a malformed one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Introspection } from "@async-ops/service"
 *
 * const program = Introspection.decodeSnapshot(JSON.parse("{}")) // fails: reason "NotAsyncOps"
 * ```
 *
 * @category snapshot
 * @since 0.1.0
 */
export const decodeSnapshot: (body: unknown) => Effect.Effect<Snapshot, SnapshotError> = internal.decodeSnapshot

/**
 * The routes `GET /debug/tasks` (the JSON array of {@link TaskEntry}) and `GET /debug/async-ops` (the
 * {@link Snapshot}), both `cache-control: no-store`.
 *
 * **Gotchas**: task names can reveal internals; serve it on an admin port or behind auth.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { Introspection } from "@async-ops/service"
 *
 * const Admin = HttpRouter.serve(Introspection.routes).pipe(Layer.provide(Introspection.layer))
 * ```
 *
 * @category routes
 * @since 0.1.0
 */
export const routes: Layer.Layer<never, never, HttpRouter.HttpRouter | Introspection> = internal.routes
