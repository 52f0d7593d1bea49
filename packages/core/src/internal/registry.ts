/**
 * The registry of live named primitives: weak entries for primitives made without a Scope, strong entries removed
 * by a finalizer for scoped sources.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Entry, Registry as RegistryShape, Source } from "../Registry.ts"

type Read = () => Effect.Effect<unknown> | undefined

/** One registration: the kind, the name and a read of its stats (undefined once its primitive is gone). */
interface Slot {
  readonly kind: string
  readonly name: string
  readonly read: Read
}

/** @internal */
export class RegistryImpl implements RegistryShape {
  readonly slots = new Map<number, Slot>()
  private nextId = 0
  private readonly finalizers = new FinalizationRegistry<number>((id) => {
    this.slots.delete(id)
  })

  get size(): number {
    return this.slots.size
  }

  addUnsafe<T extends object>(
    kind: string,
    name: string,
    target: T,
    describe: (target: T) => Effect.Effect<unknown>
  ): void {
    const id = this.nextId++
    const ref = new WeakRef(target)
    this.slots.set(id, {
      kind,
      name,
      read: () => {
        const live = ref.deref()
        return live === undefined ? undefined : describe(live)
      }
    })
    this.finalizers.register(target, id)
  }

  add(source: Source): Effect.Effect<void, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => {
        const id = this.nextId++
        const stats = source.stats
        this.slots.set(id, { kind: source.kind, name: source.name, read: () => stats })
        return id
      }),
      (id) => Effect.sync(() => this.slots.delete(id))
    ).pipe(Effect.asVoid)
  }

  get snapshot(): Effect.Effect<ReadonlyArray<Entry>> {
    return Effect.suspend(() => {
      const reads: Array<Effect.Effect<Entry | undefined>> = []
      for (const [id, slot] of this.slots) {
        const stats = slot.read()
        if (stats === undefined) {
          // collected before its finalization callback ran
          this.slots.delete(id)
          continue
        }
        reads.push(Effect.map(stats, (value) => {
          const record = toRecord(value)
          if (record.state === "closed") {
            // a group or pool that has ended is not live any more, even while something still references it
            this.slots.delete(id)
            return undefined
          }
          return { kind: slot.kind, name: slot.name, stats: record }
        }))
      }
      return Effect.map(Effect.all(reads), (entries) => entries.filter((e): e is Entry => e !== undefined))
    })
  }
}

const toRecord = (value: unknown): Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : { value }

/** The process-wide registry, the default of the reference. */
const global = new RegistryImpl()

/** @internal */
export const Registry: Context.Reference<RegistryShape> = Context.Reference<RegistryShape>(
  "@async-ops/core/Registry",
  { defaultValue: () => global }
)

/** @internal */
export const makeUnsafe = (): RegistryShape => new RegistryImpl()

const statsOf = (target: { readonly stats: Effect.Effect<unknown> }): Effect.Effect<unknown> => target.stats

/**
 * Registers `target` under `kind` and its options' `name` in the registry of `context`, weakly; a primitive without
 * a name is returned untouched at the cost of one check.
 *
 * @internal
 */
export const trackUnsafe = <T extends { readonly stats: Effect.Effect<unknown> }>(
  kind: string,
  options: { readonly name?: string | undefined } | undefined,
  context: Context.Context<never>,
  target: T,
  describe: (target: T) => Effect.Effect<unknown> = statsOf
): T => {
  const name = options?.name
  if (name !== undefined) Context.get(context, Registry).addUnsafe(kind, name, target, describe)
  return target
}

/**
 * The same as a pipeable for an Effect constructor: registers what it makes with the registry of the constructing
 * fiber's context.
 *
 * @internal
 */
export const track = <T extends { readonly stats: Effect.Effect<unknown> }>(
  kind: string,
  options: { readonly name?: string | undefined } | undefined,
  describe?: (target: T) => Effect.Effect<unknown>
) =>
<E, R>(self: Effect.Effect<T, E, R>): Effect.Effect<T, E, R> =>
  options?.name === undefined
    ? self
    : Effect.flatMap(self, (target) =>
      Effect.withFiber((fiber) => {
        fiber.getRef(Registry).addUnsafe(kind, options.name!, target, describe ?? statsOf)
        return Effect.succeed(target)
      }))

/** @internal */
export const register = (source: Source): Effect.Effect<void, never, Scope.Scope> =>
  Effect.withFiber((fiber) => fiber.getRef(Registry).add(source))

/** @internal */
export const snapshot: Effect.Effect<ReadonlyArray<Entry>> = Effect.withFiber((fiber) =>
  fiber.getRef(Registry).snapshot
)
