/**
 * The `top` command's flags and description, with its implementation (`../top.ts`) loaded when the command runs:
 * `async-ops --help`, `--version` and the other commands do not load it.
 *
 * @internal
 */
import { Argument, Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const load = Effect.promise(() => import("../top.ts"))

/** @internal */
export const command = Command.make("top", {
  url: Argument.String("url").pipe(
    Argument.withDescription("The service's base URL (its Introspection routes), e.g. http://127.0.0.1:8080")
  ),
  once: Flag.Boolean("once").pipe(Flag.withDescription("Print one frame and exit"), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(
    Flag.withDescription("Print the raw snapshot as JSON and exit"),
    Flag.withDefault(false)
  ),
  interval: Flag.Finite("interval").pipe(Flag.withDescription("Seconds between refreshes"), Flag.withDefault(1)),
  timeout: Flag.Int("timeout").pipe(
    Flag.withDescription("Milliseconds to wait for each snapshot"),
    Flag.withDefault(2000)
  ),
  width: Flag.Int("width").pipe(
    Flag.withDescription("Frame width (default: the terminal's, or 100)"),
    Flag.optional
  ),
  sort: Flag.String("sort").pipe(Flag.withDescription("Task order: age, name or state"), Flag.withDefault("age")),
  filter: Flag.String("filter").pipe(Flag.withDescription("Only names containing this text"), Flag.withDefault(""))
}, (flags) => Effect.flatMap(load, (internal) => internal.run({ ...flags, width: Option.getOrUndefined(flags.width) })))
  .pipe(
    Command.withDescription("A live console of a running async-ops service: tasks, limiters, queues, breakers")
  )
