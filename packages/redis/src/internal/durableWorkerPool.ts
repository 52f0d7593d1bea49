/**
 * DurableWorkerPool: feeders take deliveries from a PersistedQueue and hand them to a core WorkerPool, holding
 * each delivery (its take scope, hence its claim in the store) until a worker has settled it.
 *
 * @internal
 */
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as WorkerPool from "@async-ops/core/WorkerPool"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as PersistedQueue from "effect/persistence/PersistedQueue"
import * as Redis from "effect/persistence/Redis"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  DeadLetter,
  Delivery,
  DurableWorkerPool,
  Options,
  Producer,
  Stats,
  StoredDeadLetter
} from "../DurableWorkerPool.ts"
import { durationOption, intOption } from "./options.ts"

const MODULE = "DurableWorkerPool.make"

interface Envelope<A, E> {
  readonly item: A
  readonly delivery: Delivery
  readonly outcome: Deferred.Deferred<void, E>
}

const invalid = (option: string, expected: string, value: unknown) =>
  Effect.fail(new InvalidOptionError({ module: MODULE, option, expected, value }))

const validate = <S extends Schema.Constraint, E, R>(options: Options<S, E, R>) =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) return yield* invalid("options", "an object", options)
    if (typeof options.name !== "string" || options.name === "") {
      return yield* invalid("name", "a non-empty string", options.name)
    }
    if (!Schema.isSchema(options.schema)) return yield* invalid("schema", "a Schema", options.schema)
    if (typeof options.handler !== "function") {
      return yield* invalid("handler", "a function from an item to an Effect", options.handler)
    }
    const workers = yield* intOption(MODULE, "workers", options.workers, undefined, 1)
    if (workers === undefined) return yield* invalid("workers", "an integer >= 1", options.workers)
    const maxAttempts = (yield* intOption(MODULE, "maxAttempts", options.maxAttempts, 1, 1))!
    const closeTimeout = options.closeTimeout === undefined
      ? undefined
      : yield* durationOption(MODULE, "closeTimeout", options.closeTimeout, 0, 0)
    const failuresCapacity = options.failuresCapacity ?? "unbounded"
    if (failuresCapacity !== "unbounded" && !(Number.isInteger(failuresCapacity) && failuresCapacity >= 1)) {
      return yield* invalid("failuresCapacity", "an integer >= 1 or \"unbounded\"", failuresCapacity)
    }
    return { workers, maxAttempts, closeTimeout, failuresCapacity }
  })

/** @internal */
export const make = <S extends Schema.Constraint, E = never, R = never>(
  options: Options<S, E, R>
): Effect.Effect<
  DurableWorkerPool<S["Type"], E>,
  InvalidOptionError,
  Scope.Scope | R | PersistedQueue.PersistedQueueFactory | S["EncodingServices"] | S["DecodingServices"]
> =>
  Effect.gen(function*() {
    type A = S["Type"]
    const config = yield* validate(options)
    const name = options.name
    const queue = yield* PersistedQueue.make({
      name,
      schema: options.schema,
      maxAttempts: config.maxAttempts,
      retrySchedule: options.retrySchedule
    })
    const context = yield* Effect.context<R | S["EncodingServices"] | S["DecodingServices"]>()
    const dead = yield* Queue.make<DeadLetter<A, E>, Cause.Done>(
      config.failuresCapacity === "unbounded" ? undefined : { capacity: config.failuresCapacity, strategy: "sliding" }
    )
    let state: Stats["state"] = "open"
    let submitted = 0
    let taken = 0
    let done = 0
    let failed = 0
    let retried = 0
    let handedBack = 0

    // The local workers: core's WorkerPool. Its handler never fails: each outcome goes to the feeder holding the
    // delivery, which settles it in the store (complete, retry or dead letter) when its take scope closes.
    const poolScope = yield* Scope.make()
    const pool = yield* WorkerPool.make<Envelope<A, E>, never, R>({
      name,
      workers: config.workers,
      capacity: config.workers,
      closeTimeout: config.closeTimeout,
      handler: (envelope) =>
        options.handler(envelope.item, envelope.delivery).pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              if (Exit.isSuccess(exit)) done++
              else if (!Cause.hasInterruptsOnly(exit.cause)) {
                if (envelope.delivery.attempts >= config.maxAttempts) {
                  failed++
                  const fail = exit.cause.reasons.find(Cause.isFailReason)
                  const die = exit.cause.reasons.find(Cause.isDieReason)
                  Queue.offerUnsafe(
                    dead,
                    fail !== undefined
                      ? {
                        _tag: "Failure",
                        item: envelope.item,
                        error: fail.error,
                        attempts: envelope.delivery.attempts,
                        cause: exit.cause
                      }
                      : {
                        _tag: "Defect",
                        item: envelope.item,
                        defect: die?.defect,
                        attempts: envelope.delivery.attempts,
                        cause: exit.cause
                      }
                  )
                } else retried++
              }
              return Deferred.done(envelope.outcome, Exit.asVoid(exit))
            })
          ),
          Effect.ignoreCause
        )
    }).pipe(Scope.provide(poolScope), Effect.provideContext(context))

    // Items the pool drops unstarted when it closes past closeTimeout: hand them back too.
    const lettersScope = yield* Scope.make()
    const letters = yield* pool.failures.pipe(
      Stream.runForEach((letter) =>
        letter._tag === "Interrupted" && !letter.started ? Deferred.interrupt(letter.item.outcome) : Effect.void
      ),
      Effect.forkIn(lettersScope, { startImmediately: true })
    )

    // One feeder per worker: it takes a delivery only when it can hand it over, so this process claims at most
    // `workers` items. Holding the delivery is uninterruptible, so a close lets it finish (or hand it back).
    const hold = (item: A, delivery: Delivery): Effect.Effect<void, E> =>
      Effect.uninterruptible(Effect.gen(function*() {
        taken++
        const outcome = yield* Deferred.make<void, E>()
        const accepted = yield* pool.submit({ item, delivery, outcome }).pipe(
          Effect.as(true),
          Effect.catchTag("WorkerPoolClosedError", () => Effect.succeed(false))
        )
        if (!accepted) {
          handedBack++
          return yield* Effect.interrupt
        }
        const exit = yield* Effect.exit(Deferred.await(outcome))
        if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) handedBack++
        return yield* exit
      }))
    const feeder: Effect.Effect<void, never, S["EncodingServices"] | S["DecodingServices"]> = Effect.gen(function*() {
      while (state === "open") {
        const exit = yield* Effect.exit(queue.take(hold))
        if (Exit.isFailure(exit)) {
          if (state !== "open") return
          const store = exit.cause.reasons.find((r) =>
            Cause.isFailReason(r) && Schema.is(PersistedQueue.PersistedQueueError)(r.error)
          )
          if (store !== undefined) {
            yield* Effect.logWarning(`DurableWorkerPool ${name}: queue store failed`, exit.cause)
            yield* Effect.sleep(1000)
          }
        }
      }
    })
    const feedersScope = yield* Scope.make()
    const feeders: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < config.workers; i++) {
      feeders.push(
        yield* Effect.forkIn(Effect.provideContext(feeder, context), feedersScope, { startImmediately: true })
      )
    }

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        state = "closing"
        // stop taking (waiting takes end, held deliveries finish or are handed back) while the pool drains
        yield* Effect.all([Scope.close(feedersScope, Exit.void), Scope.close(poolScope, Exit.void)], {
          concurrency: 2,
          discard: true
        })
        yield* Fiber.await(letters)
        yield* Scope.close(lettersScope, Exit.void)
        state = "closed"
        yield* Queue.end(dead)
      })
    )

    const submit: DurableWorkerPool<A, E>["submit"] = (item, submitOptions) =>
      state !== "open"
        ? Effect.fail(new WorkerPool.WorkerPoolClosedError({ pool: name }))
        : (queue.offer(item, submitOptions).pipe(
          Effect.tap(() => Effect.sync(() => submitted++)),
          Effect.provideContext(context)
        ) as Effect.Effect<string, PersistedQueue.PersistedQueueError | Schema.SchemaError>)

    return {
      name,
      submit,
      submitAll: (items: Iterable<A>) => Effect.forEach(items, (item) => submit(item)),
      failures: Stream.fromQueue(dead),
      drain: pool.drain,
      stats: Effect.map(pool.stats, (s): Stats => ({
        name,
        state,
        workers: config.workers,
        active: s.active,
        submitted,
        taken,
        done,
        failed,
        retried,
        handedBack
      }))
    } satisfies DurableWorkerPool<A, E>
  })

/** @internal */
export const producer = <S extends Schema.Constraint>(options: {
  readonly name: string
  readonly schema: S
}): Effect.Effect<
  Producer<S["Type"]>,
  InvalidOptionError,
  PersistedQueue.PersistedQueueFactory | S["EncodingServices"] | S["DecodingServices"]
> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) return yield* invalid("options", "an object", options)
    if (typeof options.name !== "string" || options.name === "") {
      return yield* invalid("name", "a non-empty string", options.name)
    }
    if (!Schema.isSchema(options.schema)) return yield* invalid("schema", "a Schema", options.schema)
    const queue = yield* PersistedQueue.make({ name: options.name, schema: options.schema })
    const context = yield* Effect.context<S["EncodingServices"] | S["DecodingServices"]>()
    const submit: Producer<S["Type"]>["submit"] = (item, submitOptions) =>
      queue.offer(item, submitOptions).pipe(Effect.provideContext(context)) as Effect.Effect<
        string,
        PersistedQueue.PersistedQueueError | Schema.SchemaError
      >
    return {
      name: options.name,
      submit,
      submitAll: (items: Iterable<S["Type"]>) => Effect.forEach(items, (item) => submit(item))
    }
  })

/** @internal */
export const layerRedis = (options?: Parameters<typeof PersistedQueue.layerStoreRedis>[0]) =>
  PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreRedis(options)))

/** @internal */
export const layerMemory = PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreMemory))

const StoredRecord = Schema.Struct({
  id: Schema.String,
  element: Schema.Unknown,
  attempts: Schema.Number,
  lastFailure: Schema.String,
  failedAt: Schema.Number
})

/** @internal */
export const deadLetters = <S extends Schema.Constraint>(options: {
  readonly name: string
  readonly schema: S
  readonly prefix?: string | undefined
  readonly limit?: number | undefined
}): Effect.Effect<
  ReadonlyArray<StoredDeadLetter<S["Type"]>>,
  Redis.RedisError | Schema.SchemaError,
  Redis.Redis | S["DecodingServices"]
> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const key = `${options.prefix ?? "effectq:"}${options.name}:failed`
    const limit = options.limit ?? 1000
    const raw = yield* redis.send<Array<string>>("LRANGE", key, "0", String(Math.max(0, limit - 1)))
    const decodeRecord = Schema.decodeUnknownEffect(Schema.fromJsonString(StoredRecord))
    const decodeItem = Schema.decodeUnknownEffect(Schema.toCodecJson(options.schema))
    return yield* Effect.forEach(raw, (text) =>
      Effect.gen(function*() {
        const record = yield* decodeRecord(text)
        const item = yield* decodeItem(record.element)
        return {
          id: record.id,
          item: item as S["Type"],
          attempts: record.attempts,
          lastFailure: record.lastFailure,
          failedAt: record.failedAt
        }
      }))
  })
