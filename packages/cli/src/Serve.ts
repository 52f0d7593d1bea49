/**
 * `async-ops serve`: the `FaultServer` of `@async-ops/testing` as a long-running service, for trying a client (or
 * a whole service) against latency, 5xx, 429 with `Retry-After`, resets and hangs from the outside, the way a Python
 * team would run toxiproxy next to an aiohttp test server.
 *
 * The fault server listens on `--host:--port` (default `127.0.0.1:8080`) with fixed fault paths (`/ok`, `/slow`
 * (1 s), `/reset`, `/hang`, `/429`, `/503`, `/large` (1 MiB)) and a `--profile` mix (`none`, `light`, `default`,
 * `heavy`) on every other path. An admin server on `--admin-port` (default 9090) answers `/livez`, `/readyz`,
 * `/healthz` (the service package's `Health` routes: the fault server's check, and readiness failing once the
 * shutdown starts) and `/metrics` (`Prometheus`). It runs under the service package's `Main.run`: on SIGTERM or
 * SIGINT readiness fails, `--drain-delay` passes, the admin listener closes, requests in flight finish, and the
 * process exits 0 (1 if the `--budget` was overrun, 130 on a second signal).
 *
 * It prints `admin on http://HOST:ADMIN_PORT (...)` and then `listening on http://HOST:PORT` once both listen.
 *
 * @since 0.1.0
 */
import type * as FaultServer from "@async-ops/testing/FaultServer"
import { command as commandDefinition } from "./internal/command/serve.ts"
import * as internal from "./internal/serve.ts"

/**
 * A fault profile: how much of the default route's traffic gets faults (`none`: none; `light`, `default`,
 * `heavy`: about 4.5 %, 9 % and 27 % of 5xx, 429, resets and 2 s replies).
 *
 * @category models
 * @since 0.1.0
 */
export type Profile = internal.Profile

/**
 * The profile names `--profile` accepts.
 *
 * @example
 * ```ts
 * import { Serve } from "@async-ops/cli"
 *
 * Serve.profiles // ["none", "light", "default", "heavy"]
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const profiles: ReadonlyArray<Profile> = internal.profiles

/**
 * The `FaultServer` routes of a profile: the fixed fault paths, and the default route's mix over a lognormal
 * latency with median `latencyMs` (0: no latency).
 *
 * **When to use**: to run the same server in-process (`FaultServer.make({ ...Serve.routesFor("heavy", 20) })`).
 *
 * @example
 * ```ts
 * import { Serve } from "@async-ops/cli"
 *
 * const { defaultRoute, routes } = Serve.routesFor("none", 0)
 * defaultRoute.mix // [[200, 1]]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const routesFor: (profile: Profile, latencyMs: number) => {
  readonly routes: Record<string, FaultServer.RouteScript>
  readonly defaultRoute: FaultServer.RouteScript
} = internal.routesFor

/**
 * The `serve` command. Flags: `--host` (an IPv4 loopback address, default `127.0.0.1`), `--port` (default 8080; 0
 * picks a free one), `--admin-port` (default 9090; 0 picks one), `--profile` (default `default`), `--latency MS`
 * (median of the default route, default 20), `--seed N`, `--drain-delay D` (default `1s`), `--budget D` (the whole
 * shutdown's budget, default `10s`).
 *
 * **Gotchas**: a port in use exits 2 with `cannot listen on HOST:PORT: address in use`. Only loopback addresses
 * are served (the fault server is a test tool).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Command } from "effect/cli"
 * import { Serve } from "@async-ops/cli"
 *
 * const program = Command.runWith(Serve.command, { version: "0.1.0" })(["--port", "0", "--profile", "heavy"]).pipe(
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category commands
 * @since 0.1.0
 */
export const command: typeof commandDefinition = commandDefinition
