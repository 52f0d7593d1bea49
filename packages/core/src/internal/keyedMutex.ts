/** @internal */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { KeyedMutex, Options, Stats } from "../KeyedMutex.ts"
import { KeyedMutexReentryError } from "../KeyedMutex.ts"
import type { LockMetrics } from "./mutex.ts"
import { lockMetrics, MutexCore } from "./mutex.ts"
import * as Registry from "./registry.ts"

/**
 * One `MutexCore` per key, created on first use and dropped as soon as it is free with nobody waiting (its `idle`
 * hook), so the map only holds keys that are held or waited for.
 */
class KeyedMutexImpl<K> implements KeyedMutex<K> {
  readonly entries = new Map<K, MutexCore>()
  /** Shared by every key: in flight = keys held, waiting = fibers waiting over all keys. */
  readonly metrics: LockMetrics | undefined

  constructor(metrics: LockMetrics | undefined) {
    this.metrics = metrics
  }

  private readonly onIdle = (core: MutexCore): void => {
    this.entries.delete(core.key as K)
  }

  private entry(key: K): MutexCore {
    let core = this.entries.get(key)
    if (core === undefined) {
      core = new MutexCore(this.metrics)
      core.key = key
      core.idle = this.onIdle
      this.entries.set(key, core)
    }
    return core
  }

  readonly withLock = <A, E, R>(key: K, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) =>
        this.entry(key).run(fiber, restore, effect, () => new KeyedMutexReentryError({ key }))
      )
    )

  readonly withLockIfAvailable = <A, E, R>(
    key: K,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Option.Option<A>, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) =>
        this.entry(key).runIfAvailable(fiber, restore, effect, () => new KeyedMutexReentryError({ key }))
      )
    )

  readonly lockScoped = (key: K): Effect.Effect<void, never, Scope.Scope> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        Effect.scope,
        (scope) =>
          Effect.withFiber((fiber) =>
            this.entry(key).scoped(fiber, restore, scope, () => new KeyedMutexReentryError({ key }))
          )
      )
    )

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => {
    let waiting = 0
    for (const core of this.entries.values()) waiting += core.waiters.length
    return { size: this.entries.size, waiting }
  })
}

/** @internal */
export const makeUnsafe = <K>(options?: Options): KeyedMutex<K> =>
  Registry.trackUnsafe(
    "KeyedMutex",
    options,
    Context.empty(),
    new KeyedMutexImpl<K>(lockMetrics("KeyedMutex", options, Context.empty()))
  )

/** @internal */
export const make = <K>(options?: Options): Effect.Effect<KeyedMutex<K>> =>
  Effect.withFiber((fiber) =>
    Effect.succeed(
      Registry.trackUnsafe(
        "KeyedMutex",
        options,
        fiber.context,
        new KeyedMutexImpl<K>(lockMetrics("KeyedMutex", options, fiber.context))
      )
    )
  )

/** @internal */
export const isKeyedMutex = (u: unknown): u is KeyedMutex<unknown> => u instanceof KeyedMutexImpl
