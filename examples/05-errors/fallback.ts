/**
 * Replaces the seed's fallback chain, `try: return await primary.get(key) except PrimaryError: try: return await
 * secondary.get(key) except SecondaryError: return cache.get(key, DEFAULT)`, first with typed `Effect.catchTag`
 * steps (each step removes the error it handles from the type), then with Effect's `ExecutionPlan`: the same
 * primary → secondary → cached-default order as data, with attempts and a retry schedule per step, applied to any
 * effect that needs the data source.
 */
import { Console, Context, Data, Effect, ExecutionPlan, Layer, Schedule } from "effect"

class PrimaryDown extends Data.TaggedError("PrimaryDown")<{}> {}
class SecondaryDown extends Data.TaggedError("SecondaryDown")<{}> {}

const cache = new Map([["user:1", "Ada (cached)"]])

const primaryGet = (key: string, up: boolean) =>
  Effect.sleep("20 millis").pipe(Effect.andThen(up ? Effect.succeed(`${key} from primary`) : new PrimaryDown()))
const secondaryGet = (key: string, up: boolean) =>
  Effect.sleep("30 millis").pipe(Effect.andThen(up ? Effect.succeed(`${key} from secondary`) : new SecondaryDown()))
const cachedOrDefault = (key: string) => Effect.succeed(cache.get(key) ?? "default profile")

/** The catch chain; its type says it cannot fail: both errors are handled. */
const getWithFallback = (key: string, primaryUp: boolean, secondaryUp: boolean): Effect.Effect<string> =>
  primaryGet(key, primaryUp).pipe(
    Effect.catchTag("PrimaryDown", () => secondaryGet(key, secondaryUp)),
    Effect.catchTag("SecondaryDown", () => cachedOrDefault(key))
  )

/** A data source as a service, so an ExecutionPlan can swap which one the effect gets. */
class DataSource extends Context.Service<DataSource, {
  readonly name: string
  readonly get: (key: string) => Effect.Effect<string, PrimaryDown | SecondaryDown>
}>()("examples/DataSource") {}

const Primary = Layer.succeed(DataSource, { name: "primary", get: (key) => primaryGet(key, false) })
const Secondary = Layer.succeed(DataSource, { name: "secondary", get: (key) => secondaryGet(key, false) })
const Cached = Layer.succeed(DataSource, { name: "cache", get: cachedOrDefault })

const plan = ExecutionPlan.make(
  { provide: Primary, attempts: 2, schedule: Schedule.spaced("50 millis") },
  { provide: Secondary },
  { provide: Cached }
)

const steps = ["primary", "secondary", "cache"]

const loadProfile = (key: string) =>
  Effect.gen(function*() {
    const source = yield* DataSource
    return yield* source.get(key)
  })

export const program = Effect.gen(function*() {
  yield* Console.log("-- a catchTag chain: primary, else secondary, else the cache or a default")
  yield* Console.log(yield* getWithFallback("user:1", true, true))
  yield* Console.log(yield* getWithFallback("user:1", false, true))
  yield* Console.log(yield* getWithFallback("user:1", false, false))
  yield* Console.log(yield* getWithFallback("user:2", false, false))

  yield* Console.log("-- ExecutionPlan: primary twice (50 ms apart), then secondary, then the cache")
  const profile = yield* loadProfile("user:1").pipe(
    Effect.withExecutionPlan(plan, {
      onEvent: (event) =>
        event._tag === "AttemptStart"
          ? Effect.void
          : Console.log(
            `  step ${event.stepIndex} (${steps[event.stepIndex]}) attempt ${event.stepAttempt}: ${
              event._tag === "AttemptSuccess" ? "ok" : "failed"
            }`
          )
    })
  )
  yield* Console.log(`result: ${profile}`)
})
