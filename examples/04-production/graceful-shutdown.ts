/**
 * Replaces the guide's `GracefulShutdown` class (a SIGTERM handler that sets an `asyncio.Event`, `main` waiting on
 * it, then `asyncio.wait_for(asyncio.gather(*in_flight), timeout)` before closing resources) with `Shutdown`: the
 * Kubernetes timeline under one budget. Readiness fails at once, a drain delay lets the load balancer notice,
 * then in-flight work drains and the program's finalizers run; the phases are a `SubscriptionRef` anyone can watch.
 * A real service gets the signal from `Main.runMain`; here `Shutdown.trigger` stands in for SIGTERM.
 */
import * as Main from "@async-ops/service/Main"
import * as Shutdown from "@async-ops/service/Shutdown"
import { Clock, Console, Effect, FiberSet, Stream, SubscriptionRef } from "effect"

/** Prints a line stamped with the (virtual) time since `start`. */
const at = (start: number, line: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Console.log(`t=${now - start}ms ${line}`))

/** The service: requests are fibers in a FiberSet; the shutdown drains the set before the finalizers run. */
const service = (start: number) =>
  Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown.Shutdown
    yield* Effect.addFinalizer(() => at(start, "finalizer: connections closed"))
    // watch the phase, as a health check or a log would
    yield* Effect.forkScoped(
      SubscriptionRef.changes(shutdown.phase).pipe(
        Stream.runForEach((phase) => at(start, `phase ${phase}`))
      ),
      { startImmediately: true }
    )
    const requests = yield* FiberSet.make<void>()
    yield* Shutdown.register("in-flight requests", FiberSet.awaitEmpty(requests))
    const request = (id: number, millis: number) =>
      FiberSet.run(
        requests,
        Effect.andThen(at(start, `request ${id} started (${millis} ms)`), Effect.sleep(millis)).pipe(
          Effect.andThen(at(start, `request ${id} done`))
        )
      )
    yield* request(1, 1_000)
    yield* request(2, 3_000)
    yield* request(3, 4_000)
    yield* Effect.sleep(500)
    yield* at(start, "SIGTERM (Shutdown.trigger)")
    yield* shutdown.trigger("SIGTERM")
    const ready = (yield* SubscriptionRef.get(shutdown.phase)) === "running"
    yield* at(start, `readiness: ${ready ? "ready" : "not ready (503)"}`)
    return yield* Effect.never
  }))

export const program = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const report = yield* Main.run(service(start), {
    shutdown: { signals: [], drainDelay: "2 seconds", budget: "10 seconds" },
    logLevel: "None"
  })
  yield* Console.log(`outcome: ${report.outcome}, exit code ${report.exitCode}, after ${report.elapsedMs} ms`)
  yield* Console.log(`phases: ${report.phases.map((p) => `${p.phase} at +${p.atMs} ms`).join(", ")}`)
  for (const step of report.steps) {
    yield* Console.log(`  ${step.name}: ${step.status} in ${step.durationMs} ms`)
  }
})
