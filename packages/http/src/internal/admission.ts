/**
 * The connection admission hook: where the client takes its per-host and total connection permits. The default is
 * core's in-process `Limiter.keyed`; `@async-ops/redis`'s `FleetHttp.layer` replaces it with a fleet-wide one.
 *
 * @internal
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { Stats as KeyedStats } from "@async-ops/core/KeyedLimiter"
import * as Limiter from "@async-ops/core/Limiter"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

/** @internal */
export class ConnectionLimiterError extends Data.TaggedError("ConnectionLimiterError")<{
  readonly host: string
  readonly reason: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Connection permit of ${this.host} lost: ${this.reason}`
  }
}

/** @internal */
export interface ConnectionLimiter {
  readonly withPermit: <A, E, R>(
    host: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | ConnectionLimiterError, R>
  readonly withPermitIfAvailable: <A, E, R>(
    host: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | ConnectionLimiterError, R>
  readonly stats: Effect.Effect<KeyedStats>
}

/** @internal */
export interface ConnectionLimiterOptions {
  readonly name: string
  /** The cap per host (`Infinity`: none). */
  readonly perHost: number
  /** The cap over all hosts (`Infinity`: none). */
  readonly total: number
  readonly metrics: boolean
}

/** @internal */
export type MakeConnectionLimiter = (
  options: ConnectionLimiterOptions
) => Effect.Effect<ConnectionLimiter, InvalidOptionError, Scope.Scope>

/** @internal */
export const local: MakeConnectionLimiter = (options) =>
  Limiter.keyed<string>({
    perKey: Number.isFinite(options.perHost) ? options.perHost : 2 ** 31,
    ...(Number.isFinite(options.total) ? { global: options.total } : {}),
    name: options.name,
    metrics: options.metrics
  })

/** @internal */
export const ConnectionAdmission: Context.Reference<MakeConnectionLimiter> = Context.Reference<MakeConnectionLimiter>(
  "@async-ops/http/HttpResilience/ConnectionAdmission",
  { defaultValue: () => local }
)
