/**
 * Replaces aiomonitor's `ps` command (and `asyncio.all_tasks()` dumps from a signal handler) with
 * `Introspection`: supervisors register their live tasks by themselves, task groups are tracked by name, and
 * `GET /debug/tasks` lists every live task with its owner, state and age. Finished tasks leave the list. The
 * server and client are real; the clock is a TestClock moved by hand, so the ages printed are exact.
 */
import { TaskGroup } from "@async-ops/core"
import { HttpResilience } from "@async-ops/http"
import * as Introspection from "@async-ops/service/Introspection"
import * as Supervisor from "@async-ops/service/Supervisor"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Deferred, Effect, Layer, Schedule } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TestClock } from "effect/testing"
import { createServer } from "node:http"

const serverLayer = HttpRouter.serve(Introspection.routes, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(Introspection.layer)
)

/** Lets freshly spawned tasks take their first step (and record their start time). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

export const program = Effect.gen(function*() {
  const base = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url))
  const client = yield* HttpResilience.ResilientClient
  const dump = (title: string) =>
    Effect.gen(function*() {
      const res = yield* client.get(`${base}/debug/tasks`)
      const tasks = JSON.parse(res.text) as ReadonlyArray<Introspection.TaskEntry>
      yield* Console.log(`-- GET /debug/tasks (${title}): ${res.status}, ${tasks.length} task(s)`)
      for (const t of tasks) {
        yield* Console.log(
          `  ${t.name.padEnd(24)} ${`${t.kind} ${t.owner}`.padEnd(20)} ${t.state.padEnd(10)} age ${t.ageMs / 1000} s`
        )
      }
    })

  const sup = yield* Supervisor.make({ name: "background" })
  yield* sup.start("consumer", Effect.never)
  yield* TestClock.adjust("90 seconds")
  yield* sup.start("mailer", Effect.fail("smtp timeout"), { restart: Schedule.spaced("1 minute") })
  yield* settle
  yield* TestClock.adjust("30 seconds")

  const crawl = yield* Deferred.make<void>()
  yield* TaskGroup.scoped((group) =>
    Effect.gen(function*() {
      yield* Introspection.track("crawler", group)
      yield* group.spawn(Deferred.await(crawl), { name: "fetch https://a.example" })
      yield* group.spawn(Deferred.await(crawl), { name: "fetch https://b.example" })
      yield* settle
      yield* TestClock.adjust("5 seconds")
      yield* dump("during a crawl")
      yield* Deferred.succeed(crawl, undefined)
    }).pipe(Effect.scoped)
  )
  yield* sup.stop("mailer")
  yield* dump("crawl done, mailer stopped")
}).pipe(
  Effect.scoped,
  Effect.provide(HttpResilience.layerUndici({ retry: false })),
  Effect.provide(serverLayer),
  Effect.provide(TestClock.layer())
)
