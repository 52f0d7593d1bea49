/**
 * RedisConnection's layer: validate the URL, build NodeRedis with a bounded connect, check it with PING.
 *
 * @internal
 */
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import type { Options } from "../RedisConnection.ts"
import { RedisUnavailableError } from "../RedisConnection.ts"
import { durationOption, intOption } from "./options.ts"

const MODULE = "RedisConnection.layer"

export const validateUrl = (module: string, url: unknown): Effect.Effect<string, InvalidOptionError> => {
  const invalid = new InvalidOptionError({
    module,
    option: "url",
    expected: "a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379",
    value: url
  })
  if (typeof url !== "string" || !URL.canParse(url)) return Effect.fail(invalid)
  const parsed = new URL(url)
  if ((parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") || parsed.hostname === "") {
    return Effect.fail(invalid)
  }
  return Effect.succeed(url)
}

export const layer = (
  options: Options
): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, InvalidOptionError | RedisUnavailableError> =>
  Layer.effectContext(Effect.gen(function*() {
    if (typeof options !== "object" || options === null) {
      return yield* new InvalidOptionError({ module: MODULE, option: "options", expected: "an object", value: options })
    }
    const url = yield* validateUrl(MODULE, options.url)
    const connectTimeout = yield* durationOption(MODULE, "connectTimeout", options.connectTimeout, 5000)
    const maxConnections = yield* intOption(MODULE, "maxReservedConnections", options.maxReservedConnections, 10, 1)
    const unavailable = (cause: unknown) => new RedisUnavailableError({ operation: "connect", cause })
    return yield* Effect.gen(function*() {
      const context = yield* Layer.build(NodeRedis.layer({
        url,
        disableOfflineQueue: true,
        socket: { connectTimeout },
        maxConnections
      }))
      yield* Context.get(context, Redis.Redis).send("PING")
      return context
    }).pipe(
      Effect.mapError(unavailable),
      Effect.timeoutOrElse({
        duration: Duration.millis(connectTimeout),
        orElse: () => Effect.fail(unavailable(new Cause.TimeoutError(`no answer within ${connectTimeout} ms`)))
      })
    )
  }))
