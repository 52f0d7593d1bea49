/**
 * The `serve` command's flags and description, with its implementation (`../serve.ts`) loaded when the command runs:
 * `async-ops --help`, `--version` and the other commands do not load it.
 *
 * @internal
 */
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import { withDefault } from "./described.ts"

const load = Effect.promise(() => import("../serve.ts"))

/** @internal */
export const command = Command.make("serve", {
  host: Flag.String("host").pipe(withDefault("Loopback address to listen on", "127.0.0.1")),
  port: Flag.Int("port").pipe(
    Flag.withAlias("p"),
    withDefault("Port (0: any free one)", 8080)
  ),
  adminPort: Flag.Int("admin-port").pipe(
    withDefault("Port of /livez /readyz /healthz /metrics (0: any free one)", 9090)
  ),
  profile: Flag.String("profile").pipe(
    withDefault("Fault mix of the default route: none, light, default, heavy", "default")
  ),
  latency: Flag.Finite("latency").pipe(
    withDefault("Median latency of the default route, ms", 20)
  ),
  seed: Flag.Int("seed").pipe(withDefault("Seed of the fault decisions", 1)),
  drainDelay: Flag.String("drain-delay").pipe(
    withDefault("After SIGTERM, how long readiness fails before the listeners close", "1s")
  ),
  budget: Flag.String("budget").pipe(withDefault("The whole shutdown's budget", "10s"))
}, (flags) => Effect.flatMap(load, (internal) => internal.run(flags))).pipe(
  Command.withDescription("Run the fault server as a service, with health, metrics and graceful shutdown")
)
