/**
 * The `demo` command's flags and description, with its implementation (`../demo.ts`) loaded when the command runs:
 * `async-ops --help`, `--version` and the other commands do not load it.
 *
 * @internal
 */
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"

const load = Effect.promise(() => import("../demo.ts"))

/** @internal */
export const command = Command.make("demo", {
  urls: Flag.Int("urls").pipe(Flag.withDescription("URLs to fetch (>= 1)"), Flag.withDefault(3000)),
  hosts: Flag.Int("hosts").pipe(
    Flag.withDescription("Hosts (loopback addresses 127.0.0.1...; 1-254)"),
    Flag.withDefault(4)
  ),
  concurrency: Flag.Int("concurrency").pipe(
    Flag.withAlias("c"),
    Flag.withDescription("Requests in flight at once (>= 1)"),
    Flag.withDefault(128)
  ),
  perHost: Flag.Int("per-host").pipe(Flag.withDescription("Connections per host (>= 1)"), Flag.withDefault(16)),
  faults: Flag.Finite("faults").pipe(
    Flag.withDescription("Scale of the fault mix: 0 = no faults, 1 = default, 2 = twice as many (0-10)"),
    Flag.withDefault(1)
  ),
  latency: Flag.Finite("latency").pipe(
    Flag.withDescription("Median latency of a normal host, ms (the slow host: 3x, long tail)"),
    Flag.withDefault(10)
  ),
  timeout: Flag.String("timeout").pipe(Flag.withDescription("Timeout of each attempt"), Flag.withDefault("1s")),
  deadline: Flag.String("deadline").pipe(
    Flag.withDescription("Deadline of each URL, retries included"),
    Flag.withDefault("5s")
  ),
  retries: Flag.Int("retries").pipe(Flag.withDescription("Retries per URL"), Flag.withDefault(3)),
  seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the server's fault decisions"), Flag.withDefault(1))
}, (flags) => Effect.flatMap(load, (internal) => Effect.asVoid(internal.run(flags)))).pipe(
  Command.withDescription(
    "Fetch a few thousand URLs from a local fault server (slow, flaky, rate-limiting hosts) with live progress " +
      "and a measured summary"
  )
)
