/**
 * fetchAll: a batch of requests through the resilient client, one typed outcome per input.
 *
 * @internal
 */
import { Gather } from "@async-ops/core"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Effect from "effect/Effect"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Input, Options, Progress } from "../FetchAll.ts"
import type { HttpError } from "../HttpResilienceError.ts"
import * as Client from "./client.ts"
import type { Response } from "./response.ts"

/** @internal */
export const emptyProgress: Progress = { total: 0, inFlight: 0, done: 0, succeeded: 0, failed: 0 }

const toRequest = (input: Input): HttpClientRequest.HttpClientRequest =>
  typeof input === "string" || input instanceof URL ? HttpClientRequest.get(input) : input

const gatherOptions = (options: Options | undefined): Gather.Options => ({
  concurrency: options?.concurrency ?? 100,
  ...(options?.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
  ...(options?.timeout !== undefined ? { timeout: options.timeout } : {})
})

const itemEffect = (
  client: Client.ResilientClient,
  progress: SubscriptionRef.SubscriptionRef<Progress> | undefined
) =>
(input: Input): Effect.Effect<Response, HttpError> => {
  // Gather calls this when the item starts (a throw becomes the item's defect) and `execute` defers its work to
  // when it runs: no `Effect.suspend` needed around it.
  const effect = client.execute(toRequest(input))
  if (progress === undefined) return effect
  return Effect.andThen(
    SubscriptionRef.update(progress, (p) => ({ ...p, inFlight: p.inFlight + 1 })),
    Effect.onExit(effect, (exit) =>
      SubscriptionRef.update(progress, (p) => ({
        ...p,
        inFlight: p.inFlight - 1,
        done: p.done + 1,
        succeeded: exit._tag === "Success" ? p.succeeded + 1 : p.succeeded,
        failed: exit._tag === "Success" ? p.failed : p.failed + 1
      })))
  )
}

const start = (
  inputs: Iterable<Input>,
  options: Options | undefined
) =>
  Effect.gen(function*() {
    const items = Array.from(inputs)
    const client = yield* Client.ResilientClient
    const progress = options?.progress
    if (progress !== undefined) yield* SubscriptionRef.set(progress, { ...emptyProgress, total: items.length })
    return { items, f: itemEffect(client, progress) }
  })

/** @internal */
export const fetchAll = (
  inputs: Iterable<Input>,
  options?: Options
): Effect.Effect<
  Gather.Settled<Input, Response, HttpError>,
  InvalidOptionError,
  Client.ResilientClient
> => Effect.flatMap(start(inputs, options), ({ f, items }) => Gather.settle(items, f, gatherOptions(options)))

/** @internal */
export const stream = (
  inputs: Iterable<Input>,
  options?: Options
): Stream.Stream<
  Gather.Outcome<Input, Response, HttpError>,
  InvalidOptionError,
  Client.ResilientClient
> =>
  Stream.unwrap(
    Effect.map(start(inputs, options), ({ f, items }) => Gather.asCompleted(items, f, gatherOptions(options)))
  )
