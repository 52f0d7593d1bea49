/**
 * The `demo` command's flags and description, with its implementation (`../demo.ts`) loaded when the command runs:
 * `async-ops --help`, `--version` and the other commands do not load it.
 *
 * @internal
 */
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { withDefault } from "./described.ts"
import * as Flags from "./flags.ts"

const load = Effect.promise(() => import("../demo.ts"))

/** @internal */
export const command = Command.make("demo", {
  urls: Flag.Int("urls").pipe(withDefault("URLs to fetch (>= 1)", 3000)),
  hosts: Flag.Int("hosts").pipe(
    withDefault("Hosts (loopback addresses 127.0.0.1...; 1-254)", 4)
  ),
  concurrency: Flags.concurrency(128),
  perHost: Flags.perHost(16),
  faults: Flag.Finite("faults").pipe(
    withDefault("Scale of the fault mix: 0 = no faults, 1 = default, 2 = twice as many (0-10)", 1)
  ),
  latency: Flag.Finite("latency").pipe(
    withDefault("Median latency of a normal host, ms (the slow host: 3x, long tail)", 10)
  ),
  timeout: Flag.String("timeout").pipe(withDefault("Timeout of each attempt", "1s")),
  deadline: Flag.String("deadline").pipe(
    withDefault("Deadline of each URL, retries included", "5s")
  ),
  retries: Flag.Int("retries").pipe(withDefault("Retries per URL", 3)),
  seed: Flag.Int("seed").pipe(withDefault("Seed of the server's fault decisions", 1)),
  report: Flags.report
}, (flags) =>
  Effect.flatMap(
    load,
    (internal) => Effect.asVoid(internal.run({ ...flags, report: Option.getOrUndefined(flags.report) }))
  )).pipe(
    Command.withDescription(
      "Fetch a few thousand URLs from a local fault server (slow, flaky, rate-limiting hosts) with live progress " +
        "and a measured summary"
    )
  )
