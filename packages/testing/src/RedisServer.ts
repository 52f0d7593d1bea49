/**
 * A real `redis-server` for tests, in the style of {@link FaultServer}: started on a free loopback port with its own
 * temporary directory, stopped with its `Scope`, with the faults that distributed code must survive: stop and
 * restart on the same port (a crash and a redeploy), pause with `SIGSTOP` (a partition: the socket stays open and
 * nothing answers), and flush. It answers what Python suites get from `pytest-redis`'s process fixture plus a
 * toxiproxy, in one scoped value.
 *
 * The binary is `$ASYNC_OPS_REDIS_SERVER` when set, else `redis-server` on `PATH` (Debian: `apt-get install
 * redis-server`). {@link available} implements the project's skipping rule: without a binary, Redis suites are
 * skipped with one line naming the install command, except under `CI=true`, where a missing binary fails the run.
 *
 * @see `effect/persistence/Redis` and `@effect/platform-node/NodeRedis`, the client side these servers are for
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/redisServer.ts"

/**
 * A reply read from the server by {@link RedisServer.command}: a status or bulk string, an integer, `null` (a nil
 * reply), or an array of replies. An error reply fails the command with {@link RedisServerError}.
 *
 * @category models
 * @since 0.1.0
 */
export type Reply = string | number | null | ReadonlyArray<Reply>

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The `redis-server` binary. Default: {@link binaryPath} (`$ASYNC_OPS_REDIS_SERVER`, else `PATH`). */
  readonly binary?: string | undefined
  /** Extra `redis-server` arguments, e.g. `["--maxmemory", "10mb"]`. Default none. */
  readonly args?: ReadonlyArray<string> | undefined
  /** How long a start (or restart) may take before it fails, in milliseconds (live time). Default 10,000. */
  readonly startTimeout?: number | undefined
}

/**
 * A running (or stopped, or paused) `redis-server` owned by a scope.
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisServer {
  /** Always `127.0.0.1`. */
  readonly host: string
  /** The port, the same across {@link RedisServer.restart}s. */
  readonly port: number
  /** `redis://127.0.0.1:<port>`, for `NodeRedis.layer({ url })`. */
  readonly url: string
  /** The server's own temporary directory (removed when the scope closes). */
  readonly dir: string
  /** The process id now, or `undefined` while stopped. */
  readonly pid: Effect.Effect<number | undefined>
  /** Stops the server with `SIGTERM` (no save) and waits until the process has exited. No-op when stopped. */
  readonly stop: Effect.Effect<void>
  /** Kills the server with `SIGKILL` (a crash) and waits until the process has exited. No-op when stopped. */
  readonly kill: Effect.Effect<void>
  /**
   * Stops the server if it runs (`SIGTERM`), starts it again on the same port (empty: nothing is persisted) and
   * waits until it answers.
   */
  readonly restart: Effect.Effect<void, RedisServerError>
  /** Freezes the process with `SIGSTOP`: connections stay open and nothing answers, like a network partition. */
  readonly pause: Effect.Effect<void>
  /** Thaws a paused process with `SIGCONT`. */
  readonly resume: Effect.Effect<void>
  /** Removes every key (`FLUSHALL`). */
  readonly flush: Effect.Effect<void, RedisServerError>
  /**
   * Sends one command on a fresh connection and returns the reply, e.g. `command("INFO", "commandstats")` to
   * count the commands a client sent, or `command("CONFIG", "RESETSTAT")` to zero those counts.
   */
  readonly command: (...args: ReadonlyArray<string>) => Effect.Effect<Reply, RedisServerError>
}

/**
 * The server could not start (no binary, the port stayed taken, it did not answer in time) or a command failed
 * (an error reply, a closed connection).
 *
 * @category errors
 * @since 0.1.0
 */
export class RedisServerError extends Data.TaggedError("RedisServerError")<{
  /** What was being done: `"start"`, `"command"`. */
  readonly operation: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `RedisServer ${this.operation}: ${this.detail}`
  }
}

/**
 * The `redis-server` binary this machine has: `$ASYNC_OPS_REDIS_SERVER` when set, else the first `redis-server` on
 * `PATH`; `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { RedisServer } from "@async-ops/testing"
 *
 * const binary = RedisServer.binaryPath() // e.g. "/usr/bin/redis-server"
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const binaryPath: () => string | undefined = internal.binaryPath

/**
 * The skipping rule of the Redis suites: `true` when a `redis-server` is available. When none is, it prints one
 * line naming the install command and returns `false`, except with `CI=true` in the environment, where it throws
 * (so CI never passes by skipping).
 *
 * **When to use**: `describe.skipIf(!RedisServer.available())("…", …)` around every suite that needs Redis.
 *
 * @example
 * ```ts
 * import { RedisServer } from "@async-ops/testing"
 *
 * const run = RedisServer.available() // false (and one line on stderr) on a machine without redis-server
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const available: () => boolean = internal.available

/**
 * Starts a `redis-server` on a free port of 127.0.0.1 with its own temporary directory, no persistence and no
 * protected mode, and waits until it answers `PING`. It lives as long as the current `Scope`: closing the scope
 * kills the process (resuming it first if paused) and removes the directory.
 *
 * **When to use**: tests and examples of code on Redis (`@async-ops/redis`, Effect's `RateLimiter` and
 * `CircuitBreaker` Redis stores). Use `it.live`: the server runs in real time.
 *
 * **Gotchas**: a paused server is not dead: clients see timeouts, not connection errors, which is the point.
 * `restart` keeps the port but not the data (nothing is saved), like a crashed cache node.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisServer } from "@async-ops/testing"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* RedisServer.make()
 *   yield* server.command("SET", "k", "v")
 *   return yield* server.command("GET", "k") // "v"
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: Options) => Effect.Effect<RedisServer, RedisServerError, Scope.Scope> = internal.make

/**
 * The service key under which {@link layer} provides a {@link RedisServer}.
 *
 * @category services
 * @since 0.1.0
 */
export class Service extends Context.Service<Service, RedisServer>()("@async-ops/testing/RedisServer") {}

/**
 * A layer that runs a `redis-server` for the layer's lifetime and provides it as {@link Service}.
 *
 * **When to use**: a suite that shares one server (`it.layer(RedisServer.layer())`); call `flush` between tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisServer } from "@async-ops/testing"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* RedisServer.Service
 *   return server.url
 * }).pipe(Effect.provide(RedisServer.layer()))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<Service, RedisServerError> =>
  Layer.effect(Service, internal.make(options))
