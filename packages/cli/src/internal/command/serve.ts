/**
 * The `serve` command's flags and description, with its implementation (`../serve.ts`) loaded when the command runs:
 * `async-ops --help`, `--version` and the other commands do not load it.
 *
 * @internal
 */
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"

const load = Effect.promise(() => import("../serve.ts"))

/** @internal */
export const command = Command.make("serve", {
  host: Flag.String("host").pipe(Flag.withDescription("Loopback address to listen on"), Flag.withDefault("127.0.0.1")),
  port: Flag.Int("port").pipe(
    Flag.withAlias("p"),
    Flag.withDescription("Port (0: any free one)"),
    Flag.withDefault(8080)
  ),
  adminPort: Flag.Int("admin-port").pipe(
    Flag.withDescription("Port of /livez /readyz /healthz /metrics (0: any free one)"),
    Flag.withDefault(9090)
  ),
  profile: Flag.String("profile").pipe(
    Flag.withDescription("Fault mix of the default route: none, light, default, heavy"),
    Flag.withDefault("default")
  ),
  latency: Flag.Finite("latency").pipe(
    Flag.withDescription("Median latency of the default route, ms"),
    Flag.withDefault(20)
  ),
  seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the fault decisions"), Flag.withDefault(1)),
  drainDelay: Flag.String("drain-delay").pipe(
    Flag.withDescription("After SIGTERM, how long readiness fails before the listeners close"),
    Flag.withDefault("1s")
  ),
  budget: Flag.String("budget").pipe(Flag.withDescription("The whole shutdown's budget"), Flag.withDefault("10s"))
}, (flags) => Effect.flatMap(load, (internal) => internal.run(flags))).pipe(
  Command.withDescription("Run the fault server as a service, with health, metrics and graceful shutdown")
)
