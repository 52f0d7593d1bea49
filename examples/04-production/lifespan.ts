/**
 * Replaces FastAPI's `lifespan` / aiohttp's `cleanup_ctx` async context managers (open the config, the database pool,
 * the cache and the HTTP session before serving; close them in reverse after the shutdown) with Layers run by
 * `Main.run`: each resource is a scoped Layer, started in dependency order; after the shutdown's drain the program's
 * scope closes and each one is cleaned up in reverse. A worker pool registers a drainable, so it finishes its queue
 * while the database it writes to is still open.
 */
import * as Main from "@async-ops/service/Main"
import * as Shutdown from "@async-ops/service/Shutdown"
import { Console, Context, Effect, Layer } from "effect"

/** A resource layer that prints its startup and its cleanup. */
const resource = <I, S>(key: Context.Key<I, S>, name: string, value: S) =>
  Layer.effect(
    key,
    Effect.acquireRelease(
      Effect.as(Console.log(`startup: open ${name}`), value),
      () => Console.log(`cleanup: close ${name}`)
    )
  )

class AppConfig extends Context.Service<AppConfig, { readonly dsn: string }>()("examples/lifespan/AppConfig") {}
class Database extends Context.Service<Database, { readonly insert: (row: string) => Effect.Effect<void> }>()(
  "examples/lifespan/Database"
) {}
class Cache extends Context.Service<Cache, { readonly hits: number }>()("examples/lifespan/Cache") {}

const ConfigLive = resource(AppConfig, "config", { dsn: "postgres://db/app" })
const DatabaseLive = Layer.unwrap(
  Effect.map(AppConfig, (config) =>
    resource(Database, `database pool (${config.dsn})`, {
      insert: (row: string) => Console.log(`database: insert ${row}`)
    }))
)
const CacheLive = resource(Cache, "cache", { hits: 0 })

/** A worker pool that writes to the database; on shutdown it drains its queue before anything is closed. */
const WorkersLive = Layer.effectDiscard(Effect.gen(function*() {
  const db = yield* Database
  yield* Effect.acquireRelease(
    Console.log("startup: open worker pool"),
    () => Console.log("cleanup: close worker pool")
  )
  yield* Shutdown.register(
    "worker pool",
    Effect.andThen(
      Console.log("drain: worker pool flushes 2 queued jobs"),
      Effect.all([db.insert("job-1"), db.insert("job-2")])
    )
  )
}))

const AppLive = WorkersLive.pipe(
  Layer.provideMerge(CacheLive),
  Layer.provideMerge(DatabaseLive),
  Layer.provideMerge(ConfigLive)
)

const service = Effect.scoped(Effect.gen(function*() {
  yield* Layer.build(AppLive)
  yield* Console.log("serving")
  yield* Effect.sleep("1 second")
  yield* Console.log("SIGTERM (Shutdown.trigger)")
  yield* Shutdown.trigger("SIGTERM")
  return yield* Effect.never
}))

export const program = Effect.gen(function*() {
  const report = yield* Main.run(service, {
    shutdown: { signals: [], drainDelay: "1 second" },
    logLevel: "None"
  })
  yield* Console.log(`shutdown ${report.outcome}: ${report.steps.map((s) => s.name).join(", ")}`)
})
