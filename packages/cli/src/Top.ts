/**
 * `async-ops top <url>`: a live console for a running service, aiomonitor's and tokio-console's view for Effect
 * programs. It reads the service's `GET /debug/async-ops` snapshot (mount `Introspection.routes`) over HTTP only,
 * and shows its tasks (name, state, age; sortable), admission (limit, in flight, waiting, rejected per second per
 * limiter and per host), queues (depth, unfinished, consumers waiting), breakers (state per host), locks and task
 * groups, the event loop's delay p99 and the shutdown phase. `--once` prints one frame, `--json` the raw snapshot.
 *
 * Keys in the live view: `q` quits, `s` cycles the task sort (age, name, state), `/` types a filter on names
 * (Enter keeps it, Esc clears it). Every read has a timeout; an unreachable service or one that is not async-ops
 * is said in one line (exit 1 with `--once`/`--json`; shown and retried in the live view).
 *
 * @see https://aiomonitor.aio-libs.org/
 * @see https://github.com/tokio-rs/console
 * @since 0.1.0
 */
import type { Snapshot } from "@async-ops/service/Introspection"
import { command as commandDefinition } from "./internal/command/top.ts"
import * as internal from "./internal/top.ts"
import * as rendering from "./internal/topRender.ts"

/**
 * How the task list is ordered: oldest first (`"age"`), by name, or by state.
 *
 * @category models
 * @since 0.1.0
 */
export type TaskSort = rendering.TaskSort

/**
 * What a frame shows: its width, the task sort, the name filter, the source in the header, and a status line.
 *
 * @category models
 * @since 0.1.0
 */
export type View = rendering.View

/**
 * One frame of the console as lines of exactly `view.width` columns (at least 40), with no colour codes: a pure
 * function of the snapshot, the snapshot before it (for rejections per second; `undefined` shows `-`) and the view.
 *
 * **When to use**: to show a snapshot in your own tool, or to test what the console shows.
 *
 * @example
 * ```ts
 * import { Top } from "@async-ops/cli"
 *
 * const lines = Top.render(
 *   { service: "async-ops", version: 1, at: 0, uptimeMs: 1000, tasks: [], primitives: [] },
 *   undefined,
 *   { width: 80, sort: "age", filter: "", source: "http://127.0.0.1:8080" }
 * )
 * lines[0] // "async-ops top http://127.0.0.1:8080  up 1.0s  shutdown: -  event loop p99: -" (padded to 80)
 * ```
 *
 * @category rendering
 * @since 0.1.0
 */
export const render: (snapshot: Snapshot, previous: Snapshot | undefined, view: View) => Array<string> =
  rendering.render

/**
 * The service could not be read: connection refused, reset, or no answer within the timeout.
 *
 * @category errors
 * @since 0.1.0
 */
export const UnreachableError = internal.UnreachableError

/**
 * @category errors
 * @since 0.1.0
 */
export type UnreachableError = internal.UnreachableError

/**
 * The `top` subcommand.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Cli } from "@async-ops/cli"
 *
 * const code = Cli.run(["top", "http://127.0.0.1:8080", "--once"]).pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @category commands
 * @since 0.1.0
 */
export const command: typeof commandDefinition = commandDefinition
