/** @internal */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { pipeArguments } from "effect/Pipeable"
import * as Result from "effect/Result"
import type { Bulkhead, Options, Stats } from "../Bulkhead.ts"
import { BulkheadRejectedError } from "../Bulkhead.ts"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import { LimiterCore } from "./limiter.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"

/**
 * A fixed limiter (`LimiterCore`) whose wait queue is bounded and whose waits may time out. A call that finds the
 * queue full fails at once; a queued call that is interrupted or times out leaves the queue (its slot is free
 * again at once), and a permit granted to it at the same moment is passed on.
 */
class BulkheadImpl implements Bulkhead {
  pipe() {
    return pipeArguments(this, arguments)
  }

  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueued: number
  readonly queueTimeout: Duration.Duration | undefined
  readonly core: LimiterCore
  rejectedFull = 0
  rejectedTimeout = 0

  constructor(
    name: string,
    maxConcurrent: number,
    maxQueued: number,
    queueTimeout: Duration.Duration | undefined,
    metrics: Instruments.Instruments | undefined
  ) {
    this.name = name
    this.maxConcurrent = maxConcurrent
    this.maxQueued = maxQueued
    this.queueTimeout = queueTimeout
    this.core = new LimiterCore(maxConcurrent, metrics)
  }

  private reject(reason: BulkheadRejectedError["reason"]): Effect.Effect<never, BulkheadRejectedError> {
    if (reason === "queue-full") this.rejectedFull++
    else this.rejectedTimeout++
    if (this.core.metrics !== undefined) this.core.metrics.addRejected()
    return Effect.fail(
      new BulkheadRejectedError({
        name: this.name,
        reason,
        maxConcurrent: this.maxConcurrent,
        maxQueued: this.maxQueued,
        queueTimeout: this.queueTimeout === undefined ? undefined : Duration.toMillis(this.queueTimeout)
      })
    )
  }

  readonly withPermit = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejectedError, R> =>
    Effect.uninterruptibleMask((restore) => {
      const core = this.core
      if (core.tryTake()) return Effect.onExitPrimitive(restore(effect), core.releaseOnExit, true)
      if (core.waiters.length >= this.maxQueued) return this.reject("queue-full")
      return Effect.flatMap(
        core.wait(Fiber.getCurrent()!, restore, this.queueTimeout),
        (granted) =>
          granted ? Effect.onExitPrimitive(restore(effect), core.releaseOnExit, true) : this.reject("queue-timeout")
      )
    })

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    name: this.name,
    maxConcurrent: this.maxConcurrent,
    maxQueued: this.maxQueued,
    inFlight: this.core.inFlight,
    queued: this.core.waiters.length,
    acquired: this.core.acquired,
    waited: this.core.waited,
    rejectedQueueFull: this.rejectedFull,
    rejectedQueueTimeout: this.rejectedTimeout
  }))
}

/** @internal */
export const isBulkhead = (u: unknown): u is Bulkhead => u instanceof BulkheadImpl

/** @internal */
export const make = (options: Options): Effect.Effect<Bulkhead, InvalidOptionError> =>
  Effect.suspend(() => {
    const module = "Bulkhead.make"
    const checked = Result.all([
      InvalidOption.int(module, "maxConcurrent", options.maxConcurrent, { min: 1 }),
      InvalidOption.int(module, "maxQueued", options.maxQueued, { min: 0 }),
      options.queueTimeout === undefined
        ? Result.succeed(Duration.infinity)
        : InvalidOption.duration(module, "queueTimeout", options.queueTimeout)
    ])
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const queueTimeout = Duration.isFinite(checked.success[2]) ? checked.success[2] : undefined
    return Effect.map(
      Instruments.make("Bulkhead", options),
      (metrics) =>
        new BulkheadImpl(options.name ?? "Bulkhead", options.maxConcurrent, options.maxQueued, queueTimeout, metrics)
    ).pipe(Registry.track("Bulkhead", options))
  })
