/**
 * A registry of the live named primitives of a process: every limiter, bulkhead, queue, pool, lock, condition,
 * barrier and task group made with a `name` appears in it for as long as it lives, with its `stats`. It is the
 * data behind `Introspection`'s `/debug/async-ops` route and the `async-ops top` console, the answer to
 * aiomonitor's and tokio-console's "what is waiting on what right now".
 *
 * **Lifetimes** (nothing here can leak):
 * - A primitive made without a `Scope` (`Limiter.make`, `Mutex.makeUnsafe`, ...) is held by a `WeakRef`: the
 *   registry never keeps it alive, its entry goes when it is garbage-collected (a `FinalizationRegistry`), and a
 *   snapshot drops entries whose primitive is gone.
 * - A primitive that ends (a `TaskGroup` when `scoped` returns, a `WorkerPool` when its scope closes: `state`
 *   `"closed"`) leaves the listing at the next snapshot, even while something still references it.
 * - Sources registered with {@link register} (the resilient HTTP client, Shutdown, EventLoopMonitor) are held until
 *   the registering scope closes.
 * - A primitive made without a `name` is not registered: it pays one `undefined` check at construction, nothing
 *   per operation.
 * - Effect constructors register with the {@link Registry} of the constructing fiber; synchronous ones
 *   (`Mutex.makeUnsafe`, `Condition.makeUnsafe`, ...) have no context and use the process-wide registry.
 *
 * @see https://aiomonitor.aio-libs.org/
 * @see https://github.com/tokio-rs/console
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/registry.ts"

/**
 * One live primitive in a snapshot: what it is (`"Limiter"`, `"WorkQueue"`, ...), its name, and its `stats` now as
 * a plain record.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry {
  readonly kind: string
  readonly name: string
  readonly stats: Readonly<Record<string, unknown>>
}

/**
 * A source registered for the lifetime of a scope: a kind, a name and an effect that reads its stats.
 *
 * @category models
 * @since 0.1.0
 */
export interface Source {
  readonly kind: string
  readonly name: string
  readonly stats: Effect.Effect<unknown>
}

/**
 * A registry of live primitives.
 *
 * @category models
 * @since 0.1.0
 */
export interface Registry {
  /** Registers `source` until the current scope closes. */
  readonly add: (source: Source) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Registers `target` weakly: listed while it is reachable, with `describe(target)` as its stats. The registry
   * holds no strong reference to it (`describe` must not capture it either).
   */
  readonly addUnsafe: <T extends object>(
    kind: string,
    name: string,
    target: T,
    describe: (target: T) => Effect.Effect<unknown>
  ) => void
  /** Entries held now, including those of primitives collected or closed since the last snapshot. */
  readonly size: number
  /** Every live entry with its stats now, in registration order. */
  readonly snapshot: Effect.Effect<ReadonlyArray<Entry>>
}

/**
 * The registry primitives register with: a `Context.Reference` whose default is the process-wide registry, so
 * every named primitive appears without any setup. Provide another (from {@link makeUnsafe}) to isolate a test.
 *
 * **When to use**: read it to list what is live; provide a fresh one in tests that count entries.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Limiter, Registry } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.make({ limit: 4, name: "db" })
 *   const entries = yield* Registry.snapshot
 *   return entries.map((e) => `${e.kind}/${e.name}`) // ["Limiter/db"]
 * }).pipe(Effect.provideService(Registry.Registry, Registry.makeUnsafe()))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Registry: Context.Reference<Registry> = internal.Registry

/**
 * A new, empty registry.
 *
 * @example
 * ```ts
 * import { Registry } from "@async-ops/core"
 *
 * const registry = Registry.makeUnsafe()
 * registry.size // 0
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeUnsafe: () => Registry = internal.makeUnsafe

/**
 * Registers a source (anything with a kind, a name and a stats effect) in the current registry until the current
 * scope closes.
 *
 * **When to use**: to show your own component in `async-ops top` next to the built-in primitives.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Registry } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   let depth = 0
 *   yield* Registry.register({ kind: "Cache", name: "users", stats: Effect.sync(() => ({ size: depth })) })
 *   return yield* Registry.snapshot // [{ kind: "Cache", name: "users", stats: { size: 0 } }]
 * }))
 * ```
 *
 * @category registration
 * @since 0.1.0
 */
export const register: (source: Source) => Effect.Effect<void, never, Scope.Scope> = internal.register

/**
 * Every live entry of the current registry with its stats now.
 *
 * **Gotchas**: the stats of each entry are read one after the other, not atomically across entries.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Registry } from "@async-ops/core"
 *
 * const names = Effect.map(Registry.snapshot, (entries) => entries.map((e) => e.name))
 * ```
 *
 * @category reads
 * @since 0.1.0
 */
export const snapshot: Effect.Effect<ReadonlyArray<Entry>> = internal.snapshot
